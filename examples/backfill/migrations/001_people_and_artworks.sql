-- Two tables as an application has them before the data migration.
CREATE TABLE people (
    id   bigint PRIMARY KEY,
    name text NOT NULL
);

CREATE TABLE artworks (
    id        bigint PRIMARY KEY,
    artist_id bigint NOT NULL REFERENCES people (id),
    title     text NOT NULL
);
