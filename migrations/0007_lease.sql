-- The run's lock through a transaction-mode pooler (docs/poolers.md), where a
-- session advisory lock does not last: one row, taken under a
-- transaction-scoped advisory lock by a run whose token it records, renewed
-- while the run lasts and deleted at its end. A run that died leaves a row
-- that expires. history/lease.cpp creates the same table when a run through
-- a pooler finds no history schema yet (it takes the lease before anything else).
CREATE TABLE IF NOT EXISTS {{schema}}.lease (
    name       text PRIMARY KEY,
    token      text NOT NULL,
    holder     text NOT NULL,
    taken_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    renewed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at timestamptz NOT NULL
);
