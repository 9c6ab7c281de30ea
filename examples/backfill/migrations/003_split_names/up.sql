-- The DDL commits first; backfill.lua fills the columns in batches after it.
ALTER TABLE people ADD COLUMN first_name text, ADD COLUMN last_name text;
