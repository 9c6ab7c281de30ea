-- char(n) pads with spaces, compares surprisingly and is no faster than text.
local lint = require("moonshift.lint")

return {
  description = "char(n) columns (blank-padded; use text or varchar)",
  severity = "warning",
  kinds = "CreateStmt AlterTableStmt",
  check = function(stmt)
    local found = {}
    for _, c in ipairs(lint.columns(stmt)) do
      local t = lint.type_of(c.def.typeName)
      if t == "bpchar" then
        found[#found + 1] = {
          message = "column " .. tostring(c.name) .. " of " .. lint.name(c.relation)
            .. " is char(n): values are padded with spaces, and it is no faster than text",
          at = c.at,
          hint = "use text (with a CHECK on the length if it matters)",
        }
      end
    end
    return found
  end,
}
