-- A 32-bit (or 16-bit) key runs out: 2,147,483,647 ids, then every INSERT
-- fails, and widening the column rewrites the table under ACCESS EXCLUSIVE.
local lint = require("moonshift.lint")

local narrow = { int4 = "integer", int2 = "smallint", serial = "serial", serial4 = "serial",
  smallserial = "smallserial", serial2 = "smallserial" }

-- Columns of a CREATE TABLE named by a table-level PRIMARY KEY.
local function table_keys(node)
  local keys = {}
  for _, elt in ipairs(node.tableElts or {}) do
    local con = elt.Constraint
    if con and con.contype == "CONSTR_PRIMARY" then
      for _, k in ipairs(lint.strings(con.keys)) do keys[k] = true end
    end
  end
  return keys
end

local function is_key(c, keys)
  if keys[c.name] or c.def.identity ~= nil and c.def.identity ~= "" then return true end
  for _, con in ipairs(lint.column_constraints(c.def)) do
    if con.contype == "CONSTR_PRIMARY" or con.contype == "CONSTR_IDENTITY" then return true end
  end
  local t = lint.type_of(c.def.typeName)
  return t:match("serial") ~= nil
end

return {
  description = "integer and smallint keys (primary keys, identity and serial columns) that run out",
  severity = "warning",
  kinds = "CreateStmt AlterTableStmt",
  check = function(stmt)
    local found = {}
    local keys = stmt.kind == "CreateStmt" and table_keys(stmt.node) or {}
    for _, c in ipairs(lint.columns(stmt)) do
      local t = lint.type_of(c.def.typeName)
      if narrow[t] and (c.how ~= "type" and is_key(c, keys)) then
        found[#found + 1] = {
          message = "key column " .. tostring(c.name) .. " of " .. lint.name(c.relation) .. " is " .. narrow[t]
            .. ": it runs out (at 2,147,483,647 for integer), and widening it later rewrites the table",
          at = c.at,
          hint = "use bigint (bigint GENERATED ALWAYS AS IDENTITY for a new key)",
        }
      end
    end
    return found
  end,
}
