-- Targeted backups taken before destructive migrations (docs/safety.md):
-- what was saved, where, for which migration, and until when it is kept.
-- The data itself lives in files under the backup location; `tables` holds
-- each table's row count, file, checksum and definition, so a restore can
-- recreate a dropped table and verify what it put back.
CREATE TABLE {{schema}}.backups (
    id             bigserial PRIMARY KEY,
    version        text,                  -- the migration it was taken for; NULL for `backup create`
    migration      text,                  -- its name
    environment    text NOT NULL,
    run_id         bigint REFERENCES {{schema}}.runs (id),
    kind           text NOT NULL DEFAULT 'tables' CHECK (kind IN ('tables', 'pg_dump')),
    reason         text NOT NULL DEFAULT '',  -- "DROP TABLE users", "policy always", "by hand"
    location       text NOT NULL,         -- directory of the files
    tables         jsonb NOT NULL DEFAULT '[]',
    rows           bigint NOT NULL DEFAULT 0,
    bytes          bigint NOT NULL DEFAULT 0,  -- compressed, on disk
    status         text NOT NULL DEFAULT 'running'
                   CHECK (status IN ('running', 'complete', 'failed', 'pruned')),
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    duration_ms    integer NOT NULL DEFAULT 0,
    keep_until     timestamptz,           -- prune keeps it at least until then
    restored_at    timestamptz,
    pruned_at      timestamptz
);
CREATE INDEX backups_version ON {{schema}}.backups (version);
