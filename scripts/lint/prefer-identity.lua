-- serial creates a sequence the table does not fully own (grants, dumps,
-- copies of the table); identity columns are the SQL-standard replacement.
local lint = require("moonshift.lint")

local serials = { serial = "integer", serial4 = "integer", bigserial = "bigint", serial8 = "bigint",
  smallserial = "smallint", serial2 = "smallint" }

return {
  description = "serial columns (use GENERATED ... AS IDENTITY)",
  severity = "warning",
  kinds = "CreateStmt AlterTableStmt",
  check = function(stmt)
    local found = {}
    for _, c in ipairs(lint.columns(stmt)) do
      local base = serials[lint.type_of(c.def.typeName)]
      if base and c.how ~= "type" then
        found[#found + 1] = {
          message = "column " .. tostring(c.name) .. " of " .. lint.name(c.relation)
            .. " is serial: its sequence is a separate object with its own grants and ownership",
          at = c.at,
          hint = tostring(c.name) .. " " .. (base == "integer" and "bigint" or base) .. " GENERATED ALWAYS AS IDENTITY",
        }
      end
    end
    return found
  end,
}
