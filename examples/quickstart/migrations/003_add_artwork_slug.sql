-- A URL-friendly name for every artwork.
ALTER TABLE artworks ADD COLUMN slug text;
UPDATE artworks SET slug = lower(regexp_replace(title, '\W+', '-', 'g'));
ALTER TABLE artworks ALTER COLUMN slug SET NOT NULL;
