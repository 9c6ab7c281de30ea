DROP TABLE artworks;
