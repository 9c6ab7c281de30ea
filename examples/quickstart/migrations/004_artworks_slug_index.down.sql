DROP INDEX IF EXISTS artworks_slug;
