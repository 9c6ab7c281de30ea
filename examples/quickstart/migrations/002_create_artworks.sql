-- moonshift:requires 001
CREATE TABLE artworks (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    artist_id bigint NOT NULL REFERENCES artists (id),
    title     text NOT NULL,
    year      integer CHECK (year BETWEEN 1000 AND 2100)
);
CREATE INDEX artworks_artist_id ON artworks (artist_id);

INSERT INTO artists (name) VALUES ('Hilma af Klint'), ('Sonia Delaunay');
INSERT INTO artworks (artist_id, title, year)
SELECT id, title, year FROM artists
JOIN (VALUES ('Hilma af Klint', 'The Ten Largest', 1907),
             ('Sonia Delaunay', 'Electric Prisms', 1914)) AS v (artist, title, year)
  ON v.artist = artists.name;
