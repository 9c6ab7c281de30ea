-- ADD COLUMN ... NOT NULL without a DEFAULT fails on a table that has rows,
-- often only in production, where the table is not empty.
local lint = require("moonshift.lint")

return {
  description = "ADD COLUMN ... NOT NULL without a DEFAULT fails on a table that has rows",
  severity = "error",
  kinds = "AlterTableStmt",
  catalog = true,
  check = function(stmt)
    local n = stmt.node
    local t = lint.table(stmt, n.relation)
    if t.created or (t.known and (not t.exists or t.bytes == 0)) then return nil end
    local found = {}
    for _, cmd in ipairs(lint.commands(n)) do
      local coldef = cmd.subtype == "AT_AddColumn" and cmd.def and cmd.def.ColumnDef
      if coldef then
        local not_null, filled = false, false
        for _, c in ipairs(lint.column_constraints(coldef)) do
          if c.contype == "CONSTR_NOTNULL" or c.contype == "CONSTR_PRIMARY" then not_null = true end
          if c.contype == "CONSTR_DEFAULT" or c.contype == "CONSTR_IDENTITY" or c.contype == "CONSTR_GENERATED" then
            filled = true
          end
        end
        local base = lint.type_of(coldef.typeName)
        if base:match("serial") then filled = true end
        if not_null and not filled then
          found[#found + 1] = {
            message = "adding NOT NULL column " .. lint.name(n.relation) .. "." .. coldef.colname
              .. " without a DEFAULT fails as soon as the table has a row",
            at = coldef.location,
            hint = "give it a DEFAULT, or add it nullable, backfill it, then SET NOT NULL",
          }
        end
      end
    end
    return found
  end,
}
