-- Ready-made pre-checks: require("moonshift.checks"). Each one reads the
-- database through the running script's `db`, returns true when the
-- condition holds, and otherwise stops the run with ctx:fail, naming the
-- line of the script that called it. Reference: docs/lua-api.md.
local M = {}

-- ctx:fail names the first line outside the built-in library: the caller's.
local function fail(msg)
  ctx:fail(msg)
end

-- Called straight from the public functions, so level 3 is their caller.
local function need_string(fn, what, v)
  if type(v) ~= "string" or v == "" then
    error(string.format("checks.%s: %s must be a non-empty string, got %s", fn, what, type(v)), 3)
  end
end

-- The relation a name resolves to (search_path applies), or nil.
local function relation(name)
  return db:query([[
    select c.oid::bigint as oid, c.relkind, n.nspname || '.' || c.relname as qualified
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.oid = to_regclass($1)]], name)[1]
end

local function table_relation(name)
  local rel = relation(name)
  if not rel then fail(string.format("table %s does not exist", name)) end
  if rel.relkind ~= "r" and rel.relkind ~= "p" then
    local kinds = { v = "a view", m = "a materialized view", i = "an index", S = "a sequence", f = "a foreign table" }
    fail(string.format("%s is %s, not a table", name, kinds[rel.relkind] or "not a table"))
  end
  return rel
end

-- No transaction in this database has been open longer than max_seconds
-- (they hold locks and old snapshots a migration would wait behind).
function M.no_long_running_transactions(max_seconds)
  if type(max_seconds) ~= "number" or max_seconds < 0 then
    error("checks.no_long_running_transactions: max_seconds must be a number >= 0", 2)
  end
  local rows = db:query([[
    select pid, coalesce(usename, '?') as usename, coalesce(state, '?') as state,
           extract(epoch from now() - xact_start)::bigint as seconds,
           left(regexp_replace(coalesce(query, ''), '\s+', ' ', 'g'), 80) as query
      from pg_stat_activity
     where datname = current_database() and pid <> pg_backend_pid()
       and xact_start is not null and now() - xact_start > make_interval(secs => $1)
     order by xact_start]], max_seconds)
  if #rows == 0 then return true end
  local parts = {}
  for i, r in ipairs(rows) do
    if i > 5 then parts[#parts + 1] = string.format("and %d more", #rows - 5) break end
    parts[#parts + 1] = string.format("pid %d (%s, %s, %d s: %s)", r.pid, r.usename, r.state, r.seconds, r.query)
  end
  fail(string.format("%d transaction(s) open longer than %s s: %s", #rows, tostring(max_seconds),
    table.concat(parts, "; ")))
end

-- The table exists (a name like "users" or "billing.invoices").
function M.table_exists(name)
  need_string("table_exists", "the table name", name)
  table_relation(name)
  return true
end

-- The table has the column.
function M.column_exists(tbl, column)
  need_string("column_exists", "the table name", tbl)
  need_string("column_exists", "the column name", column)
  local rel = table_relation(tbl)
  local found = db:scalar([[
    select count(*) from pg_attribute
     where attrelid = $1::oid and attname = $2 and attnum > 0 and not attisdropped]], rel.oid, column)
  if found == 0 then fail(string.format("table %s has no column %s", tbl, column)) end
  return true
end

-- Row level security is enabled on the table.
function M.rls_enabled(tbl)
  need_string("rls_enabled", "the table name", tbl)
  local rel = table_relation(tbl)
  if not db:scalar("select relrowsecurity from pg_class where oid = $1::oid", rel.oid) then
    fail(string.format("row level security is not enabled on %s", tbl))
  end
  return true
end

-- The table with its indexes and TOAST is at most `limit`: bytes, or a
-- size PostgreSQL understands ("10 MB", "2GB").
function M.max_table_size(tbl, limit)
  need_string("max_table_size", "the table name", tbl)
  if type(limit) ~= "number" and type(limit) ~= "string" then
    error("checks.max_table_size: the limit must be a number of bytes or a size like \"10 MB\"", 2)
  end
  local rel = table_relation(tbl)
  local r = db:query([[
    select pg_total_relation_size($1::oid) as size, pg_size_bytes($2::text) as max,
           pg_size_pretty(pg_total_relation_size($1::oid)) as pretty, pg_size_pretty(pg_size_bytes($2::text)) as max_pretty]],
    rel.oid, type(limit) == "number" and string.format("%d", limit) or limit)[1]
  if tonumber(r.size) > tonumber(r.max) then
    fail(string.format("table %s is %s, over the limit of %s", tbl, r.pretty, r.max_pretty))
  end
  return true
end

-- The extension is installed in this database.
function M.extension_installed(name)
  need_string("extension_installed", "the extension name", name)
  if db:scalar("select count(*) from pg_extension where extname = $1", name) == 0 then
    fail(string.format("extension %s is not installed", name))
  end
  return true
end

return M
