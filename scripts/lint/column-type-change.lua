-- ALTER COLUMN ... TYPE rewrites the table and rebuilds its indexes under an
-- ACCESS EXCLUSIVE lock, except for the few changes PostgreSQL knows to be
-- binary compatible: varchar(n) to a longer varchar or to text, and
-- numeric(p,s) to a wider precision with the same scale.
local lint = require("moonshift.lint")

-- "character varying(10)" -> "varchar", {10}; "numeric(10,2)" -> "numeric", {10, 2}
local function parse_type(text)
  local base, mods = text:match("^([^(]+)%((.*)%)$")
  base = base or text
  local out = {}
  for m in (mods or ""):gmatch("%d+") do out[#out + 1] = tonumber(m) end
  local names = { ["character varying"] = "varchar", ["text"] = "text", ["numeric"] = "numeric" }
  return names[base] or base, out
end

local function binary_compatible(old, new, new_mods)
  local old_base, old_mods = parse_type(old)
  if new == "text" then return old_base == "varchar" or old_base == "text" end
  if new == "varchar" then
    if old_base == "text" then return #new_mods == 0 end
    if old_base ~= "varchar" then return false end
    if #new_mods == 0 then return true end
    return #old_mods == 1 and new_mods[1] >= old_mods[1]
  end
  if new == "numeric" and old_base == "numeric" then
    if #new_mods == 0 then return true end
    if #old_mods == 0 then return false end
    return (new_mods[2] or 0) == (old_mods[2] or 0) and new_mods[1] >= old_mods[1]
  end
  return false
end

return {
  description = "a column type change that rewrites the table",
  severity = "error",
  kinds = "AlterTableStmt",
  catalog = true,
  check = function(stmt)
    local n = stmt.node
    if lint.harmless(stmt, n.relation) then return nil end
    local t = lint.table(stmt, n.relation)
    local found = {}
    for _, cmd in ipairs(lint.commands(n)) do
      local coldef = cmd.subtype == "AT_AlterColumnType" and cmd.def and cmd.def.ColumnDef
      if coldef then
        local new, mods = lint.type_of(coldef.typeName)
        local old = t.columns and t.columns[cmd.name]
        local using = coldef.raw_default ~= nil
        if using or not old or not binary_compatible(old, new, mods) then
          found[#found + 1] = {
            message = "changing the type of " .. lint.name(n.relation) .. "." .. cmd.name
              .. (old and (" from " .. old) or "") .. " rewrites the table" .. lint.size_note(stmt, n.relation)
              .. " and its indexes under an ACCESS EXCLUSIVE lock",
            at = coldef.location or n.relation.location,
            hint = "add a new column, fill it in batches, switch readers to it, then drop the old one",
          }
        end
      end
    end
    return found
  end,
}
