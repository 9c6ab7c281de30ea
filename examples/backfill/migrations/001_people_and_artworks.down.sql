DROP TABLE artworks;
DROP TABLE people;
