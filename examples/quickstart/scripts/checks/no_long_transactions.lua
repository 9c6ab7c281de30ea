-- A project check: runs before any migration on every `moonshift up`, and
-- alone with `moonshift check`. Read-only; ctx:fail stops the run (exit 3).
local checks = require("moonshift.checks")
checks.no_long_running_transactions(600)
if ctx.env == "production" and ctx.dry_run == false then
  ctx:log("checking production before migrating")
end
