-- Renaming a table, view or column breaks every running client that still
-- uses the old name, from the moment the migration commits.
local lint = require("moonshift.lint")

local renamed = {
  OBJECT_TABLE = "table", OBJECT_COLUMN = "column", OBJECT_VIEW = "view",
  OBJECT_MATVIEW = "materialized view", OBJECT_FOREIGN_TABLE = "foreign table",
}

return {
  description = "renaming a table, view or column breaks running code",
  severity = "error",
  kinds = "RenameStmt",
  check = function(stmt)
    local n = stmt.node
    local what = renamed[n.renameType]
    if not what or not n.relation or lint.table(stmt, n.relation).created then return nil end
    local old = lint.name(n.relation) .. (n.renameType == "OBJECT_COLUMN" and ("." .. n.subname) or "")
    return {
      message = "renaming " .. what .. " " .. old .. " to " .. n.newname .. " breaks code that still uses the old name",
      at = n.relation.location,
      hint = "add the new name alongside the old (a new column kept in sync, or a view), move the code, "
        .. "then remove the old name in a later migration",
    }
  end,
}
