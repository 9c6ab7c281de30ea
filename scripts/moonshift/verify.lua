-- Verification helpers: require("moonshift.verify"). Each one runs a query
-- through the running script's `db` and, when the expectation does not
-- hold, stops the run with ctx:fail naming the line of the script that
-- called it. Extra arguments after the expectation are bound as $1, $2, ...
-- Reference: docs/lua-api.md.
local M = {}

-- ctx:fail names the first line outside the built-in library: the caller's.
local function fail(msg)
  ctx:fail(msg)
end

-- The query as a subquery: without trailing semicolons and whitespace.
local function subquery(fn, sql)
  if type(sql) ~= "string" then
    error(string.format("verify.%s: the query must be a string, got %s", fn, type(sql)), 3)
  end
  return (sql:gsub("[%s;]+$", ""))
end

local function show(v)
  if type(v) == "table" then return json.encode(v) end
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

local function same(a, b)
  if type(a) == "table" or type(b) == "table" then
    return type(a) == type(b) and json.encode(a) == json.encode(b)
  end
  if type(a) == "number" and type(b) == "string" then return tostring(a) == b or a == tonumber(b) end
  if type(a) == "string" and type(b) == "number" then return a == tostring(b) or tonumber(a) == b end
  return a == b
end

-- The query returns exactly n rows, or between min and max: expect_rows(sql, 3)
-- or expect_rows(sql, {min = 1}) or expect_rows(sql, {min = 1, max = 10}, param...).
function M.expect_rows(sql, expected, ...)
  local q = subquery("expect_rows", sql)
  local min, max
  if type(expected) == "number" then
    min, max = expected, expected
  elseif type(expected) == "table" and (expected.min or expected.max) then
    min, max = expected.min, expected.max
  else
    error("verify.expect_rows: the expectation must be a number or {min = , max = }", 2)
  end
  local n = db:scalar("select count(*) from (" .. q .. ") as expect_rows", ...)
  if (min and n < min) or (max and n > max) then
    local want
    if min == max then want = tostring(min)
    elseif min and max then want = string.format("between %d and %d", min, max)
    elseif min then want = string.format("at least %d", min)
    else want = string.format("at most %d", max) end
    fail(string.format("expected %s row(s), got %d from: %s", want, n, q))
  end
  return n
end

-- The query returns no rows; the message says what those rows mean. The
-- failure shows the first few offending rows.
function M.expect_no_rows(sql, msg, ...)
  local q = subquery("expect_no_rows", sql)
  local rows = db:query("select * from (" .. q .. ") as expect_no_rows limit 3", ...)
  if #rows == 0 then return true end
  local shown = {}
  for i, r in ipairs(rows) do shown[i] = json.encode(r) end
  fail(string.format("%s (e.g. %s)", msg or ("expected no rows from: " .. q), table.concat(shown, ", ")))
end

-- The first column of the first row equals value (numbers and their text
-- compare equal; tables compare as JSON).
function M.expect_scalar(sql, value, ...)
  local q = subquery("expect_scalar", sql)
  local got = db:scalar(q, ...)
  if not same(got, value) then
    fail(string.format("expected %s, got %s from: %s", show(value), show(got), q))
  end
  return got
end

-- Row counts of the tables, to compare later with row_counts_unchanged:
--   local before = verify.snapshot_row_counts({"users", "orders"})
function M.snapshot_row_counts(tables)
  if type(tables) ~= "table" or #tables == 0 then
    error("verify.snapshot_row_counts: give an array of table names", 2)
  end
  local counts = {}
  for _, t in ipairs(tables) do
    if type(t) ~= "string" or db:scalar("select to_regclass($1) is not null", t) ~= true then
      error(string.format("verify.snapshot_row_counts: %s is not a table", tostring(t)), 2)
    end
    counts[t] = db:scalar("select count(*) from " .. db:scalar("select to_regclass($1)::text", t))
  end
  return counts
end

-- Every table of the snapshot still has the same number of rows.
function M.row_counts_unchanged(snapshot)
  if type(snapshot) ~= "table" then
    error("verify.row_counts_unchanged: give the table from snapshot_row_counts", 2)
  end
  local changed, names = {}, {}
  for t in pairs(snapshot) do names[#names + 1] = t end
  table.sort(names)
  for _, t in ipairs(names) do
    local regclass = db:scalar("select to_regclass($1)::text", t)
    if not regclass then
      changed[#changed + 1] = string.format("%s is gone (had %d)", t, snapshot[t])
    else
      local now = db:scalar("select count(*) from " .. regclass)
      if now ~= snapshot[t] then
        changed[#changed + 1] = string.format("%s had %d, now %d", t, snapshot[t], now)
      end
    end
  end
  if #changed > 0 then fail("row counts changed: " .. table.concat(changed, "; ")) end
  return true
end

return M
