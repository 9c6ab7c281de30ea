-- How to undo a migration that has no down script (docs/rollback.md,
-- "Derived reverse"): recorded with the migration's row, in its transaction,
-- from the catalog before and after it ran. NULL for a migration applied
-- before this record existed, imported or baselined: it has no derived reverse.
-- {"sql": [...], "finish": [...], "data": ["DROP COLUMN ..."], "irreversible": ["..."]}
ALTER TABLE {{schema}}.migrations ADD COLUMN reverse jsonb;
