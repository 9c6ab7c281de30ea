-- Helpers for lint rules (require("moonshift.lint")): names of relations,
-- walking parse trees, and what the target's catalog says about a table.
-- A rule receives `stmt`: { kind, node, text, file, line, column, offset,
-- no_transaction, file_no_transaction, facts, tables, options } (docs/lint-rules.md).
local M = {}

-- "schema.name" or "name" of a RangeVar node (bare or wrapped as {RangeVar = ...}).
function M.name(rv)
  if type(rv) ~= "table" then return nil end
  if rv.RangeVar then rv = rv.RangeVar end
  if type(rv.relname) ~= "string" then return nil end
  if type(rv.schemaname) == "string" then return rv.schemaname .. "." .. rv.relname end
  return rv.relname
end

-- The schema a RangeVar names, "public" when it leaves it to search_path.
function M.schema(rv)
  if type(rv) == "table" and rv.RangeVar then rv = rv.RangeVar end
  if type(rv) == "table" and type(rv.schemaname) == "string" then return rv.schemaname end
  return "public"
end

-- What is known about a table: { known, exists, created, bytes, rows, rls, kind, columns }.
-- known is false when lint runs without a database; created is true when an
-- earlier statement of this run creates it.
function M.table(stmt, rv)
  local n = type(rv) == "string" and rv or M.name(rv)
  return (n and stmt.tables[n]) or { known = false, exists = false, created = false }
end

local function size_text(bytes)
  local units = { "bytes", "kB", "MB", "GB", "TB" }
  local i = 1
  while bytes >= 1024 and i < #units do
    bytes = bytes / 1024
    i = i + 1
  end
  if i == 1 then return string.format("%d bytes", bytes) end
  return string.format("%.1f %s", bytes, units[i])
end
M.size_text = size_text

-- True (and why) when locking or rewriting the table cannot hurt: it is
-- created in this run, or the target says it is smaller than [lint] small_table.
function M.harmless(stmt, rv)
  local t = M.table(stmt, rv)
  if t.created then return true, "created in this run" end
  if t.known and not t.exists then return true, "not in the database yet" end
  if t.known and t.bytes < stmt.options.small_table then return true, "small (" .. size_text(t.bytes) .. ")" end
  return false
end

-- " (12.4 GB)" when the size is known, "" otherwise: for messages.
function M.size_note(stmt, rv)
  local t = M.table(stmt, rv)
  if t.known and t.exists then
    local rows = t.rows and t.rows >= 0 and string.format(", ~%d rows", t.rows) or ""
    return " (" .. size_text(t.bytes) .. rows .. ")"
  end
  return ""
end

-- Calls fn(kind, node) for every wrapped node ({Kind = {...}}) below tree, depth first.
function M.walk(tree, fn)
  local function visit(v)
    if type(v) ~= "table" then return end
    for k, child in pairs(v) do
      if type(k) == "string" and k:match("^%u") and type(child) == "table" then fn(k, child) end
      visit(child)
    end
  end
  visit(tree)
end

-- Every node of one kind below tree.
function M.find(tree, kind)
  local out = {}
  M.walk(tree, function(k, node) if k == kind then out[#out + 1] = node end end)
  return out
end

-- {"a", "b"} from a list of String nodes.
function M.strings(list)
  local out = {}
  for _, item in ipairs(list or {}) do
    if type(item) == "table" and item.String then out[#out + 1] = item.String.sval or "" end
  end
  return out
end

-- "schema.name" of a list of String nodes (DROP objects, function names).
function M.dotted(list)
  return table.concat(M.strings(list), ".")
end

-- The function name of a FuncCall node, lower-case, without its schema.
function M.func_name(call)
  local parts = M.strings(call.funcname)
  return parts[#parts] and parts[#parts]:lower() or ""
end

-- The commands of an ALTER TABLE statement, unwrapped.
function M.commands(node)
  local out = {}
  for _, c in ipairs(node.cmds or {}) do out[#out + 1] = c.AlterTableCmd or c end
  return out
end

-- The constraints of a ColumnDef, unwrapped.
function M.column_constraints(coldef)
  local out = {}
  for _, c in ipairs(coldef.constraints or {}) do out[#out + 1] = c.Constraint or c end
  return out
end

-- Every column a CREATE TABLE defines, an ALTER TABLE adds or retypes:
-- { def = ColumnDef, name = column name, relation = RangeVar, at = location,
-- how = "create" | "add" | "type" }. For "type", def.typeName is the new type.
function M.columns(stmt)
  local out, n = {}, stmt.node
  if stmt.kind == "CreateStmt" then
    for _, elt in ipairs(n.tableElts or {}) do
      if elt.ColumnDef then
        local d = elt.ColumnDef
        out[#out + 1] = { def = d, name = d.colname, relation = n.relation, at = d.location, how = "create" }
      end
    end
  elseif stmt.kind == "AlterTableStmt" then
    for _, cmd in ipairs(M.commands(n)) do
      local def = cmd.def and cmd.def.ColumnDef
      if def and cmd.subtype == "AT_AddColumn" then
        out[#out + 1] = { def = def, name = def.colname, relation = n.relation, at = def.location, how = "add" }
      elseif def and cmd.subtype == "AT_AlterColumnType" then
        out[#out + 1] = { def = def, name = cmd.name, relation = n.relation, at = def.location, how = "type" }
      end
    end
  end
  return out
end

-- The type of a TypeName node: base name (last part, "int8", "varchar",
-- "serial") and its modifiers as numbers ({255} for varchar(255)).
function M.type_of(type_name)
  local parts = M.strings(type_name and type_name.names)
  local mods = {}
  for _, m in ipairs(type_name and type_name.typmods or {}) do
    local c = m.A_Const
    if c and c.ival then mods[#mods + 1] = c.ival.ival or 0 end
  end
  return parts[#parts] or "", mods
end

-- A DefElem of a list (options, params) by name.
function M.option(list, name)
  for _, item in ipairs(list or {}) do
    local d = item.DefElem
    if d and d.defname == name then return d end
  end
  return nil
end

return M
