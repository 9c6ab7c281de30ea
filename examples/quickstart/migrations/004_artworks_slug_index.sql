-- moonshift:no-transaction
-- Built concurrently so writes to artworks are never blocked; moonshift runs
-- this file statement by statement and records each one, so a failure resumes
-- where it stopped.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS artworks_slug ON artworks (slug);
