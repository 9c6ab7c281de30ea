-- Adding a FOREIGN KEY or CHECK constraint checks every existing row while
-- holding a lock that blocks writes (and, for a foreign key, writes to the
-- referenced table too). NOT VALID skips the check; VALIDATE CONSTRAINT
-- later checks the rows under a lock that lets traffic through.
local lint = require("moonshift.lint")

return {
  description = "FOREIGN KEY or CHECK constraint added to an existing table without NOT VALID",
  severity = "error",
  kinds = "AlterTableStmt",
  catalog = true,
  check = function(stmt)
    local n = stmt.node
    if lint.harmless(stmt, n.relation) then return nil end
    local found = {}
    for _, cmd in ipairs(lint.commands(n)) do
      local con = cmd.subtype == "AT_AddConstraint" and cmd.def and cmd.def.Constraint
      if con and (con.contype == "CONSTR_FOREIGN" or con.contype == "CONSTR_CHECK") and not con.skip_validation then
        local what = con.contype == "CONSTR_FOREIGN" and "FOREIGN KEY" or "CHECK"
        found[#found + 1] = {
          message = "adding " .. what .. " constraint " .. (con.conname or "") .. " checks every row of "
            .. lint.name(n.relation) .. lint.size_note(stmt, n.relation) .. " while writes are blocked",
          at = con.location,
          hint = "add it NOT VALID, then ALTER TABLE " .. lint.name(n.relation)
            .. " VALIDATE CONSTRAINT ... in a later migration",
        }
      end
    end
    return found
  end,
}
