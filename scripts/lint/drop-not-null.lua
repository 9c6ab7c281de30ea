-- Dropping NOT NULL is cheap for the database but not for readers: code
-- that assumed the column is always set starts seeing NULLs.
local lint = require("moonshift.lint")

return {
  description = "ALTER COLUMN ... DROP NOT NULL (readers that assume a value break)",
  severity = "warning",
  kinds = "AlterTableStmt",
  check = function(stmt)
    local found = {}
    for _, cmd in ipairs(lint.commands(stmt.node)) do
      if cmd.subtype == "AT_DropNotNull" and not lint.table(stmt, stmt.node.relation).created then
        found[#found + 1] = {
          message = "DROP NOT NULL on " .. lint.name(stmt.node.relation) .. "." .. tostring(cmd.name)
            .. ": code that reads it may not expect NULL",
          at = stmt.node.relation.location,
          hint = "release code that handles NULL first; if it does, say so: -- moonshift:allow drop-not-null <reason>",
        }
      end
    end
    return found
  end,
}
