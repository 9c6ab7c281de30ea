-- timestamp without time zone stores wall-clock readings: the same instant
-- reads differently from sessions in other time zones, and DST makes some
-- values ambiguous.
local lint = require("moonshift.lint")

return {
  description = "timestamp without time zone (use timestamptz)",
  severity = "warning",
  kinds = "CreateStmt AlterTableStmt",
  check = function(stmt)
    local found = {}
    for _, c in ipairs(lint.columns(stmt)) do
      if lint.type_of(c.def.typeName) == "timestamp" then
        found[#found + 1] = {
          message = "column " .. tostring(c.name) .. " of " .. lint.name(c.relation)
            .. " is timestamp without time zone: the same instant reads differently in other time zones",
          at = c.at,
          hint = "use timestamptz (timestamp with time zone)",
        }
      end
    end
    return found
  end,
}
