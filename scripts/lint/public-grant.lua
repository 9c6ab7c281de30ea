-- On Supabase (and any PostgREST setup) anon and authenticated are the
-- roles of the public API: a grant to them, or to PUBLIC, exposes the
-- objects to everyone who holds the project's public key.
local lint = require("moonshift.lint")

local exposed = { anon = true, authenticated = true }

local function grantees(list)
  local out = {}
  for _, g in ipairs(list or {}) do
    local r = g.RoleSpec or g
    if r.roletype == "ROLESPEC_PUBLIC" then out[#out + 1] = "PUBLIC"
    elseif r.rolename and exposed[r.rolename] then out[#out + 1] = r.rolename end
  end
  return out
end

local function objects(n)
  if n.targtype == "ACL_TARGET_ALL_IN_SCHEMA" then
    return "all " .. (n.objtype == "OBJECT_TABLE" and "tables" or "objects") .. " in schema "
      .. table.concat(lint.strings(n.objects), ", ")
  end
  local names = {}
  for _, o in ipairs(n.objects or {}) do
    names[#names + 1] = lint.name(o) or (o.String and o.String.sval) or (o.List and lint.dotted(o.List.items))
      or (o.ObjectWithArgs and lint.dotted(o.ObjectWithArgs.objname)) or "?"
  end
  return table.concat(names, ", ")
end

return {
  description = "GRANT to anon, authenticated or PUBLIC",
  severity = "error",
  kinds = "GrantStmt AlterDefaultPrivilegesStmt",
  check = function(stmt)
    local n = stmt.node
    local default = stmt.kind == "AlterDefaultPrivilegesStmt"
    if default then n = n.action and (n.action.GrantStmt or n.action) or {} end
    if not n.is_grant then return nil end
    local who = grantees(n.grantees)
    if #who == 0 then return nil end
    return {
      message = (default and "default privileges grant future objects" or "GRANT on " .. objects(n)) .. " to "
        .. table.concat(who, ", ") .. ": exposed to every client of the public API",
      hint = "grant only what the API needs, protect tables with row level security; "
        .. "if intended: -- moonshift:allow public-grant <reason>",
    }
  end,
}
