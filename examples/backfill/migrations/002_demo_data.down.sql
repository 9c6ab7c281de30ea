DELETE FROM artworks;
DELETE FROM people;
