-- Backfills (docs/backfills.md): one row per backfill of a migration while it
-- runs, so `moonshift backfill status|pause|resume` can see and steer it from
-- another terminal; and the before-images of keep_before = true, which `down`
-- writes back. Positions themselves live in {{schema}}.checkpoints, written
-- in each batch's own transaction.
CREATE TABLE {{schema}}.backfills (
    version         text NOT NULL,
    part            integer NOT NULL,          -- the migration's nth backfill, from 0
    table_name      text NOT NULL,
    state           text NOT NULL DEFAULT 'running'
                    CHECK (state IN ('running', 'waiting', 'paused', 'failed')),
    pause_requested boolean NOT NULL DEFAULT false,
    rows_done       bigint NOT NULL DEFAULT 0,
    rows_total      bigint,                    -- counted when it started; NULL when unknown
    rows_per_second double precision,
    batch_size      integer,
    message         text,                      -- why it waits, or its error
    run_id          bigint REFERENCES {{schema}}.runs (id),
    backend_pid     integer,
    started_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (version, part)
);

-- Old values (as text) of the columns a backfill changed, keyed by the row's
-- key (as text); the first image of a row wins.
CREATE TABLE {{schema}}.backfill_before (
    version    text NOT NULL,
    part       integer NOT NULL,
    table_name text NOT NULL,
    key        jsonb NOT NULL,
    before     jsonb NOT NULL,
    PRIMARY KEY (version, part, key)
);
