-- The change that, in this story, makes the application fail in production.
ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'new';
