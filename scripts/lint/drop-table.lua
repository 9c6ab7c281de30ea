-- DROP TABLE deletes the table's data. moonshift backs the table up before
-- the migration runs (backup policy "destructive"), but the drop should be
-- a decision on record: allow it with a reason.
local lint = require("moonshift.lint")

return {
  description = "DROP TABLE deletes data",
  severity = "error",
  kinds = "DropStmt",
  catalog = true,
  check = function(stmt)
    local n = stmt.node
    if n.removeType ~= "OBJECT_TABLE" then return nil end
    local found = {}
    for _, obj in ipairs(n.objects or {}) do
      local name = lint.dotted(obj.List and obj.List.items)
      local t = lint.table(stmt, name)
      -- DROP TABLE IF EXISTS of a table the target does not have deletes nothing.
      local absent = n.missing_ok and t.known and not t.exists
      if not t.created and not absent then
        found[#found + 1] = {
          message = "DROP TABLE " .. name .. " deletes the table and its data",
          hint = "if intended, say why: -- moonshift:allow drop-table <reason> (a backup is taken before it runs)",
        }
      end
    end
    return found
  end,
}
