-- ALTER COLUMN ... SET NOT NULL reads the whole table under an ACCESS
-- EXCLUSIVE lock to prove there is no NULL (unless a validated CHECK
-- (col IS NOT NULL) constraint already proves it, PostgreSQL 12+).
local lint = require("moonshift.lint")

return {
  description = "SET NOT NULL on an existing table scans it under an ACCESS EXCLUSIVE lock",
  severity = "error",
  kinds = "AlterTableStmt",
  catalog = true,
  check = function(stmt)
    local n = stmt.node
    if lint.harmless(stmt, n.relation) then return nil end
    local found = {}
    for _, cmd in ipairs(lint.commands(n)) do
      if cmd.subtype == "AT_SetNotNull" then
        found[#found + 1] = {
          message = "SET NOT NULL on " .. lint.name(n.relation) .. "." .. cmd.name .. " scans the table"
            .. lint.size_note(stmt, n.relation) .. " while it is locked against reads and writes",
          at = n.relation.location,
          hint = "ADD CONSTRAINT c CHECK (" .. cmd.name .. " IS NOT NULL) NOT VALID; VALIDATE CONSTRAINT c in a "
            .. "later migration; then SET NOT NULL uses it without a scan, and DROP CONSTRAINT c",
        }
      end
    end
    return found
  end,
}
