-- A migration never drops a database: it is not reversible and no backup of
-- moonshift's covers it.
return {
  description = "DROP DATABASE in a migration",
  severity = "error",
  kinds = "DropdbStmt",
  check = function(stmt)
    return {
      message = "DROP DATABASE " .. tostring(stmt.node.dbname) .. " in a migration: nothing brings it back",
      hint = "drop databases by hand, outside the migration history",
    }
  end,
}
