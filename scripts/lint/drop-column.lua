-- DROP COLUMN deletes the column's data, and running code that still reads
-- or writes the column starts failing the moment the migration commits.
local lint = require("moonshift.lint")

return {
  description = "DROP COLUMN deletes data and breaks code that still uses the column",
  severity = "error",
  kinds = "AlterTableStmt",
  check = function(stmt)
    local n = stmt.node
    if lint.table(stmt, n.relation).created then return nil end
    local found = {}
    for _, cmd in ipairs(lint.commands(n)) do
      if cmd.subtype == "AT_DropColumn" then
        found[#found + 1] = {
          message = "DROP COLUMN " .. lint.name(n.relation) .. "." .. cmd.name
            .. " deletes its data, and code that still uses it fails",
          at = n.relation.location,
          hint = "stop using the column in a release first; then -- moonshift:allow drop-column <reason>",
        }
      end
    end
    return found
  end,
}
