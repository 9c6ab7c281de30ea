-- A table in a schema that the API serves (Supabase: public) is readable and
-- writable by every client holding the public key until row level security
-- is enabled on it. Reported when no statement of the same run enables it.
local lint = require("moonshift.lint")

local exposed, created = {}, {}

local function key(rv)
  return lint.schema(rv) .. "." .. (rv.RangeVar or rv).relname
end

return {
  description = "new table without row level security in a schema exposed by the API (Supabase)",
  severity = "error",
  kinds = "CreateStmt CreateTableAsStmt AlterTableStmt",
  catalog = true,
  start = function(options)
    exposed, created = {}, {}
    for _, s in ipairs(options.exposed_schemas or {}) do exposed[s] = true end
  end,
  check = function(stmt)
    local n = stmt.node
    if stmt.kind == "AlterTableStmt" then
      for _, cmd in ipairs(lint.commands(n)) do
        if cmd.subtype == "AT_EnableRowSecurity" or cmd.subtype == "AT_ForceRowSecurity" then
          created[key(n.relation)] = nil
        end
      end
      return nil
    end
    local rv = stmt.kind == "CreateStmt" and n.relation or (n.into and (n.into.IntoClause or n.into).rel)
    if not rv or rv.relpersistence == "t" or not exposed[lint.schema(rv)] then return nil end
    created[key(rv)] = { file = stmt.file, at = rv.location, name = key(rv) }
    return nil
  end,
  finish = function()
    local found = {}
    for _, c in pairs(created) do
      found[#found + 1] = {
        file = c.file,
        at = c.at,
        message = "table " .. c.name .. " is created in an exposed schema without row level security: "
          .. "every client with the public key can read and change it",
        hint = "ALTER TABLE " .. c.name .. " ENABLE ROW LEVEL SECURITY; then add policies for the access you intend",
      }
    end
    return found
  end,
}
