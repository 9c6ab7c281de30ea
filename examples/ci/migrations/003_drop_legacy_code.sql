-- Destructive: production backs up accounts before this runs.
ALTER TABLE accounts DROP COLUMN legacy_code;
