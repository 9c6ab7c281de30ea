-- DROP INDEX without CONCURRENTLY takes ACCESS EXCLUSIVE on the index's
-- table: reads and writes wait until it is done (and behind any long query).
local lint = require("moonshift.lint")

return {
  description = "DROP INDEX without CONCURRENTLY (locks the table against reads and writes)",
  severity = "error",
  kinds = "DropStmt",
  check = function(stmt)
    local n = stmt.node
    if n.removeType ~= "OBJECT_INDEX" or n.concurrent then return nil end
    local names = {}
    for _, obj in ipairs(n.objects or {}) do
      names[#names + 1] = lint.dotted(obj.List and obj.List.items or obj)
    end
    return {
      message = "DROP INDEX " .. table.concat(names, ", ")
        .. " without CONCURRENTLY locks its table against reads and writes until it is done",
      hint = "DROP INDEX CONCURRENTLY in a migration that starts with -- moonshift:no-transaction",
    }
  end,
}
