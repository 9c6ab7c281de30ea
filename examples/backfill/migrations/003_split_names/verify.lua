-- Runs after the backfill, in the transaction that records the migration.
return function(db, ctx)
  local left = db:scalar("SELECT count(*) FROM people WHERE first_name IS NULL")
  if left > 0 then ctx:fail(left .. " people have no first_name") end
end
