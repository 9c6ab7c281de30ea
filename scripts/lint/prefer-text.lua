-- varchar(n) where text serves: changing n later is an ALTER that (when it
-- shrinks) rewrites the table, and the limit is rarely a business rule. A
-- CHECK (length(x) <= n) says the same and can be changed NOT VALID.
local lint = require("moonshift.lint")

return {
  description = "varchar(n) columns (text with a CHECK on its length serves and changes cheaply)",
  severity = "warning",
  kinds = "CreateStmt AlterTableStmt",
  check = function(stmt)
    local found = {}
    for _, c in ipairs(lint.columns(stmt)) do
      local t, mods = lint.type_of(c.def.typeName)
      if t == "varchar" and #mods > 0 then
        found[#found + 1] = {
          message = "column " .. tostring(c.name) .. " of " .. lint.name(c.relation) .. " is varchar(" .. mods[1]
            .. "): changing the limit later takes an ACCESS EXCLUSIVE lock",
          at = c.at,
          hint = "use text, with CHECK (length(" .. tostring(c.name) .. ") <= " .. mods[1] .. ") if the limit matters",
        }
      end
    end
    return found
  end,
}
