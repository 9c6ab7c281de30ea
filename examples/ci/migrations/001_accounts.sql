CREATE TABLE accounts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL UNIQUE,
    legacy_code text
);
INSERT INTO accounts (email, legacy_code) VALUES ('ada@example.com', 'A1'), ('alan@example.com', 'B2');
