-- A CHECK on a domain is validated against every column of that type, in
-- every table, under locks; a later ALTER DOMAIN ... ADD CONSTRAINT scans
-- them all. Checks on the columns themselves can be added NOT VALID.
return {
  description = "CREATE DOMAIN with a CHECK, ALTER DOMAIN ... ADD CONSTRAINT",
  severity = "error",
  kinds = "CreateDomainStmt AlterDomainStmt",
  check = function(stmt)
    local n = stmt.node
    if stmt.kind == "CreateDomainStmt" then
      for _, c in ipairs(n.constraints or {}) do
        local con = c.Constraint or c
        if con.contype == "CONSTR_CHECK" then
          return {
            message = "a domain with a CHECK constraint: changing it later scans every column of the type under lock",
            at = con.location,
            hint = "put the CHECK on the columns (ADD CONSTRAINT ... NOT VALID, then VALIDATE)",
          }
        end
      end
      return nil
    end
    if n.subtype == "C" then
      return {
        message = "ALTER DOMAIN ... ADD CONSTRAINT checks every column of the domain's type in every table, under lock",
        hint = "add the check to the columns NOT VALID and VALIDATE it in a later migration",
      }
    end
    return nil
  end,
}
