-- CREATE INDEX without CONCURRENTLY holds a SHARE lock for the whole build:
-- every INSERT, UPDATE and DELETE on the table waits. Adding a UNIQUE or
-- PRIMARY KEY constraint builds its index under ACCESS EXCLUSIVE.
local lint = require("moonshift.lint")

return {
  description = "CREATE INDEX on an existing table without CONCURRENTLY (and UNIQUE/PRIMARY KEY constraints that build an index under lock)",
  severity = "error",
  kinds = "IndexStmt AlterTableStmt",
  catalog = true,
  check = function(stmt)
    local n = stmt.node
    if stmt.kind == "IndexStmt" then
      if n.concurrent or lint.harmless(stmt, n.relation) then return nil end
      return {
        message = "CREATE INDEX without CONCURRENTLY blocks writes to " .. lint.name(n.relation)
          .. lint.size_note(stmt, n.relation) .. " until the index is built",
        at = n.relation.location,
        hint = "use CREATE INDEX CONCURRENTLY in a migration that starts with -- moonshift:no-transaction",
      }
    end
    local found = {}
    for _, cmd in ipairs(lint.commands(n)) do
      local con = cmd.subtype == "AT_AddConstraint" and cmd.def and cmd.def.Constraint
      if con and (con.contype == "CONSTR_PRIMARY" or con.contype == "CONSTR_UNIQUE") and not con.indexname
          and not lint.harmless(stmt, n.relation) then
        local what = con.contype == "CONSTR_PRIMARY" and "PRIMARY KEY" or "UNIQUE"
        found[#found + 1] = {
          message = "adding a " .. what .. " constraint builds its index while " .. lint.name(n.relation)
            .. lint.size_note(stmt, n.relation) .. " is locked against reads and writes",
          at = con.location,
          hint = "CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... " .. what .. " USING INDEX",
        }
      end
    end
    return found
  end,
}
