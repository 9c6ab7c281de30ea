-- UPDATE or DELETE without WHERE touches every row: usually a mistake, and
-- on a large table one long transaction that holds row locks on all of it.
local lint = require("moonshift.lint")

return {
  description = "UPDATE or DELETE without WHERE",
  severity = "error",
  kinds = "UpdateStmt DeleteStmt",
  catalog = true,
  check = function(stmt)
    local n = stmt.node
    if n.whereClause then return nil end
    local t = lint.table(stmt, n.relation)
    if t.created then return nil end
    if stmt.kind == "UpdateStmt" then
      if lint.harmless(stmt, n.relation) then return nil end
      return {
        message = "UPDATE without WHERE rewrites every row of " .. lint.name(n.relation) .. lint.size_note(stmt, n.relation)
          .. " in one transaction",
        at = n.relation.location,
        hint = "add a WHERE clause, or move a large backfill to a batched Lua backfill",
      }
    end
    return {
      message = "DELETE without WHERE deletes every row of " .. lint.name(n.relation) .. lint.size_note(stmt, n.relation),
      at = n.relation.location,
      hint = "add a WHERE clause; if every row must go, say why: -- moonshift:allow require-where <reason>",
    }
  end,
}
