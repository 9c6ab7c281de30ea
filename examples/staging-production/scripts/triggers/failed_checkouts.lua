-- A project rollback trigger: sampled during the watch window of production.
local function failed()
  if db:scalar("SELECT to_regclass('public.orders') IS NULL") then return 0 end
  if db:scalar([[SELECT count(*) FROM information_schema.columns
                 WHERE table_name = 'orders' AND column_name = 'status']]) == 0 then return 0 end
  return db:scalar("SELECT count(*) FROM orders WHERE status = 'failed'")
end

return {
  description = "checkouts must not start failing",
  baseline = function() return { failed = failed() } end,
  check = function(base)
    local now = failed()
    if now > base.failed + 10 then
      return { fired = true, reason = (now - base.failed) .. " more failed checkouts since the run" }
    end
    return { fired = false }
  end,
}
