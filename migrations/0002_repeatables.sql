-- Repeatable migrations (Flyway's R__name.sql): no version, re-applied after
-- the versioned ones whenever the file's checksum differs from the one
-- recorded here. Kept apart from {{schema}}.migrations so that versions,
-- `down` and drift checks never see them.
CREATE TABLE {{schema}}.repeatables (
    name        text PRIMARY KEY,
    checksum    text NOT NULL,          -- '' after an import whose file differs: applied again
    how         text NOT NULL DEFAULT 'applied' CHECK (how IN ('applied', 'imported')),
    applied_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    applied_by  text NOT NULL,
    duration_ms integer NOT NULL DEFAULT 0,
    environment text NOT NULL,
    run_id      bigint REFERENCES {{schema}}.runs (id)
);
