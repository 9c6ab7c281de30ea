-- TRUNCATE deletes every row at once, under an ACCESS EXCLUSIVE lock.
local lint = require("moonshift.lint")

return {
  description = "TRUNCATE deletes every row",
  severity = "error",
  kinds = "TruncateStmt",
  check = function(stmt)
    local found = {}
    for _, rv in ipairs(stmt.node.relations or {}) do
      if not lint.table(stmt, rv).created then
        found[#found + 1] = {
          message = "TRUNCATE " .. lint.name(rv) .. " deletes every row" .. lint.size_note(stmt, rv),
          at = (rv.RangeVar or rv).location,
          hint = "if intended, say why: -- moonshift:allow truncate <reason> (a backup is taken before it runs)",
        }
      end
    end
    return found
  end,
}
