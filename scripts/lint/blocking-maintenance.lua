-- VACUUM FULL and CLUSTER rewrite the table under an ACCESS EXCLUSIVE lock;
-- REINDEX without CONCURRENTLY blocks writes (and reads that use the index).
local lint = require("moonshift.lint")

return {
  description = "VACUUM FULL, CLUSTER, and REINDEX without CONCURRENTLY",
  severity = "error",
  kinds = "VacuumStmt ClusterStmt ReindexStmt",
  catalog = true,
  check = function(stmt)
    local n = stmt.node
    if stmt.kind == "VacuumStmt" then
      if not lint.option(n.options, "full") then return nil end
      local rels = n.rels or {}
      if #rels == 0 then
        return { message = "VACUUM FULL of the whole database rewrites every table under an ACCESS EXCLUSIVE lock",
                 hint = "use plain VACUUM, or pg_repack for the tables that need it" }
      end
      local found = {}
      for _, vr in ipairs(rels) do
        local rel = (vr.VacuumRelation or vr).relation
        if not lint.harmless(stmt, rel) then
          found[#found + 1] = {
            message = "VACUUM FULL rewrites " .. lint.name(rel) .. lint.size_note(stmt, rel)
              .. " under an ACCESS EXCLUSIVE lock",
            at = rel.location,
            hint = "use plain VACUUM, or pg_repack outside the migration",
          }
        end
      end
      return found
    end
    if stmt.kind == "ClusterStmt" then
      if n.relation and lint.harmless(stmt, n.relation) then return nil end
      return {
        message = "CLUSTER rewrites " .. (n.relation and lint.name(n.relation) .. lint.size_note(stmt, n.relation)
          or "every clustered table") .. " under an ACCESS EXCLUSIVE lock",
        at = n.relation and n.relation.location or nil,
        hint = "use pg_repack outside the migration",
      }
    end
    if lint.option(n.params, "concurrently") then return nil end
    if n.relation and lint.harmless(stmt, n.relation) then return nil end
    return {
      message = "REINDEX without CONCURRENTLY blocks writes to " .. (n.relation and lint.name(n.relation) or "the tables")
        .. " until it finishes",
      at = n.relation and n.relation.location or nil,
      hint = "REINDEX ... CONCURRENTLY in a migration that starts with -- moonshift:no-transaction",
    }
  end,
}
