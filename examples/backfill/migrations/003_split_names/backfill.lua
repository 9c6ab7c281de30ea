-- Split "Ada Maria Lovelace" into first_name "Ada Maria" and last_name
-- "Lovelace": a Lua function per row, batches of rows through COPY.
backfill {
  table = "people",
  key = "id",
  where = "first_name IS NULL",
  transform = function(row)
    local first, last = row.name:match("^(.-)%s+(%S+)$")
    if not first then return { first_name = row.name, last_name = db.null } end
    return { first_name = first, last_name = last }
  end,
  batch = "200ms",                  -- adaptive: batches of about 200 ms each
  throttle = {
    max_rows_per_second = 50000,
    max_replication_lag = "5s",     -- wait while replicas fall behind
    pause_when = function(health)   -- and while someone holds a transaction open for a minute
      if health.longest_transaction > 60 then return "a transaction has been open for over a minute" end
    end,
  },
}
