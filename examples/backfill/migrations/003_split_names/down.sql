ALTER TABLE people DROP COLUMN first_name, DROP COLUMN last_name;
