ALTER TABLE accounts DROP COLUMN created_at;
