-- Adding a column whose default is volatile (random(), gen_random_uuid(),
-- clock_timestamp(), a serial, an identity or a stored generated column)
-- rewrites the whole table under an ACCESS EXCLUSIVE lock. A constant or
-- stable default (now(), 'x') is only stored in the catalog: instant.
local lint = require("moonshift.lint")

local volatile = {
  random = true, gen_random_uuid = true, uuid_generate_v1 = true, uuid_generate_v1mc = true,
  uuid_generate_v4 = true, clock_timestamp = true, timeofday = true, nextval = true,
  gen_random_bytes = true, setseed = true, random_normal = true,
}
local serial = { serial = true, serial4 = true, bigserial = true, serial8 = true, smallserial = true, serial2 = true }

local function rewriting_default(coldef)
  local base = lint.type_of(coldef.typeName)
  if serial[base] then return base .. " column" end
  for _, c in ipairs(lint.column_constraints(coldef)) do
    if c.contype == "CONSTR_IDENTITY" then return "identity column" end
    if c.contype == "CONSTR_GENERATED" then return "stored generated column" end
    if c.contype == "CONSTR_DEFAULT" then
      for _, call in ipairs(lint.find(c.raw_expr, "FuncCall")) do
        local name = lint.func_name(call)
        if volatile[name] then return "volatile default " .. name .. "()" end
      end
    end
  end
  return nil
end

return {
  description = "ADD COLUMN with a volatile default (or serial, identity, stored generated) rewrites the table",
  severity = "error",
  kinds = "AlterTableStmt",
  catalog = true,
  check = function(stmt)
    local n = stmt.node
    if lint.harmless(stmt, n.relation) then return nil end
    local found = {}
    for _, cmd in ipairs(lint.commands(n)) do
      local coldef = cmd.subtype == "AT_AddColumn" and cmd.def and cmd.def.ColumnDef
      local why = coldef and rewriting_default(coldef)
      if why then
        found[#found + 1] = {
          message = "adding " .. lint.name(n.relation) .. "." .. coldef.colname .. " with a " .. why
            .. " rewrites the table" .. lint.size_note(stmt, n.relation) .. " under an ACCESS EXCLUSIVE lock",
          at = coldef.location,
          hint = "add the column without a default (or with a constant one), then fill it in batches",
        }
      end
    end
    return found
  end,
}
