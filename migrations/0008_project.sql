-- Several projects in one database keep separate histories (docs/formats.md,
-- "Several projects in one database"): two Sqitch plans number their changes
-- 1, 2, 3 … alike, so a row is keyed by the project as well as the version.
-- The key is Sqitch's %project, and '' for every other layout; rows recorded
-- before it existed keep '' and are adopted by the keyed project whose
-- migrations they match (history.cpp).
ALTER TABLE {{schema}}.migrations ADD COLUMN project text NOT NULL DEFAULT '';
ALTER TABLE {{schema}}.migrations DROP CONSTRAINT migrations_pkey;
ALTER TABLE {{schema}}.migrations ADD PRIMARY KEY (project, version);
