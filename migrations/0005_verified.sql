-- When a migration was verified in this environment: set when the
-- verifications after the run that applied it (or a later `moonshift verify`)
-- passed. Promotion takes only migrations verified in the source.
ALTER TABLE {{schema}}.migrations ADD COLUMN verified_at timestamptz;
