-- moonshift's own bookkeeping, applied by moonshift itself. {{schema}} is the
-- configured history schema ([project] schema, default "moonshift").
CREATE SCHEMA IF NOT EXISTS {{schema}};

CREATE TABLE {{schema}}.host_versions (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- One row per command that changed (or tried to change) the database.
CREATE TABLE {{schema}}.runs (
    id          bigserial PRIMARY KEY,
    command     text NOT NULL,
    environment text NOT NULL,
    actor       text NOT NULL,
    client_host text,
    backend_pid integer,
    started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    outcome     text NOT NULL DEFAULT 'running',
    report      jsonb NOT NULL DEFAULT '{}'
);

-- One row per applied migration; written in the same transaction as the
-- migration itself, so the two can never disagree.
CREATE TABLE {{schema}}.migrations (
    version     text PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    form        text NOT NULL DEFAULT 'sql',
    how         text NOT NULL DEFAULT 'applied' CHECK (how IN ('applied', 'baseline', 'imported')),
    applied_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    applied_by  text NOT NULL,
    duration_ms integer NOT NULL DEFAULT 0,
    environment text NOT NULL,
    run_id      bigint REFERENCES {{schema}}.runs (id)
);

-- Resumable positions: statements of no-transaction migrations, backfills.
CREATE TABLE {{schema}}.checkpoints (
    version    text NOT NULL,
    kind       text NOT NULL,
    position   jsonb NOT NULL,
    run_id     bigint REFERENCES {{schema}}.runs (id),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (version, kind)
);
