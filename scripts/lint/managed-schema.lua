-- Supabase owns the auth, storage, realtime and other platform schemas and
-- changes them on upgrades; a migration that alters them can break the
-- platform or be undone by it. Policies and triggers on their tables (such
-- as storage.objects policies, or a trigger on auth.users) are the
-- documented ways to extend them and are not reported.
local lint = require("moonshift.lint")

local managed = {
  auth = true, storage = true, realtime = true, supabase_functions = true, vault = true,
  graphql = true, graphql_public = true, pgsodium = true, pgsodium_masks = true, net = true,
  supabase_migrations = true, _realtime = true, _analytics = true,
}
local changing = {
  created = true, dropped = true, altered = true, truncated = true, indexed = true, renamed = true,
  written = true, clustered = true, reindexed = true,
}

return {
  description = "changes to Supabase-managed schemas (auth, storage, realtime, ...)",
  severity = "error",
  kinds = "CreateStmt CreateTableAsStmt AlterTableStmt DropStmt TruncateStmt IndexStmt RenameStmt "
    .. "UpdateStmt DeleteStmt CreateFunctionStmt CreateEnumStmt CompositeTypeStmt ViewStmt ClusterStmt ReindexStmt",
  check = function(stmt)
    for _, rel in ipairs(stmt.facts.relations) do
      if changing[rel.role] and rel.schema ~= "" and managed[rel.schema] then
        return {
          message = "changes " .. rel.qualified .. " in schema " .. rel.schema .. ", which Supabase manages",
          at = rel.location ~= 0 and rel.location or nil,
          hint = "keep project objects in your own schemas; policies and triggers on managed tables are fine",
        }
      end
    end
    local n = stmt.node
    local names
    if stmt.kind == "CreateFunctionStmt" then names = { lint.strings(n.funcname) }
    elseif stmt.kind == "CreateEnumStmt" then names = { lint.strings(n.typeName) }
    elseif stmt.kind == "CompositeTypeStmt" then names = { { n.typevar and n.typevar.schemaname } }
    elseif stmt.kind == "ViewStmt" then names = { { n.view and n.view.schemaname } }
    elseif stmt.kind == "DropStmt" then
      names = {}
      for _, o in ipairs(n.objects or {}) do
        if o.List then names[#names + 1] = lint.strings(o.List.items)
        elseif o.ObjectWithArgs then names[#names + 1] = lint.strings(o.ObjectWithArgs.objname)
        elseif o.TypeName then names[#names + 1] = lint.strings(o.TypeName.names)
        elseif o.String and n.removeType == "OBJECT_SCHEMA" then names[#names + 1] = { o.String.sval, "" } end
      end
    end
    for _, parts in ipairs(names or {}) do
      if #parts >= 2 and managed[parts[1]] then
        return {
          message = "changes " .. table.concat(parts, "."):gsub("%.$", "") .. " in schema " .. parts[1]
            .. ", which Supabase manages",
          hint = "keep project objects in your own schemas",
        }
      end
    end
    return nil
  end,
}
