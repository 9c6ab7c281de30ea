---@meta moonshift
-- LuaLS annotations of moonshift's Lua API (docs/lua-api.md), for editors only:
-- add this file to "workspace.library" in .luarc.json. It is never loaded by moonshift.

---@alias moonshift.phase "precheck"|"up"|"verify"|"down"|"check"|"hook"|"run"

---A failed SQL statement: raised by db:query & co, returned by the db:try_* forms.
---`tostring(err)` is "file:line: message (sqlstate)".
---@class moonshift.SqlError
---@field sqlstate string SQLSTATE, e.g. "23505"
---@field message string the server's primary message
---@field detail? string
---@field hint? string
---@field context? string
---@field query string the statement as the script passed it
---@field position? integer 1-based character position of the error in `query`
---@field where string "migrations/002_x.lua:7": the line that ran the statement

---A row: column name -> value; a NULL column is absent.
---@alias moonshift.Row table<string, any>

---@class moonshift.CopyOutOptions
---@field format? "text"|"csv" default "text"
---@field header? boolean a header line (csv only)

---The run's database session. Parameters are bound ($1, $2, ...); one statement per call;
---transaction control is refused. Call with a colon: db:query(...).
---@class moonshift.Db
---@field null lightuserdata NULL (the same value as json.null)
db = {}

---All rows of a query, as an array of tables keyed by column name.
---@param sql string one statement, parameters as $1, $2, ...
---@param ... any parameters
---@return moonshift.Row[]
function db:query(sql, ...) end

---The first column of the first row; nil when there is no row or it is NULL.
---@param sql string
---@param ... any parameters
---@return any
function db:scalar(sql, ...) end

---Runs a statement; the number of rows it affected. Refused in read-only phases.
---@param sql string
---@param ... any parameters
---@return integer
function db:exec(sql, ...) end

---Like db:query, but a failure returns nil and the error (in a savepoint, so the transaction goes on).
---@param sql string
---@param ... any parameters
---@return moonshift.Row[]|nil rows
---@return moonshift.SqlError|nil err
function db:try_query(sql, ...) end

---Like db:scalar, but a failure returns nil and the error.
---@param sql string
---@param ... any parameters
---@return any value
---@return moonshift.SqlError|nil err
function db:try_scalar(sql, ...) end

---Like db:exec, but a failure returns nil and the error. Refused in read-only phases.
---@param sql string
---@param ... any parameters
---@return integer|nil affected
---@return moonshift.SqlError|nil err
function db:try_exec(sql, ...) end

---Streams the rows of a query through a cursor (constant memory), calling fn(row) for each;
---fn returning false stops. The last argument is the function: db:each(sql, p1, p2, fn).
---@param sql string a query (SELECT, VALUES, TABLE)
---@param ... any parameters, then fun(row: moonshift.Row): boolean|nil
---@return integer count rows passed to fn
function db:each(sql, ...) end

---Runs fn(db) in a savepoint (a transaction when there is none): released when fn returns,
---rolled back when it raises (the error goes on).
---@generic T
---@param fn fun(db: moonshift.Db): T
---@return T
function db:transaction(fn) end

---COPY ... TO STDOUT: fn(line) per row, without the newline.
---@param source string a table name or a query (no parameters)
---@param fn fun(line: string)
---@param opts? moonshift.CopyOutOptions
---@return integer rows
function db:copy_out(source, fn, opts) end

---COPY ... FROM STDIN. rows: an array of rows, or a function returning the next row (nil at the end);
---a row is an array in column order or a table keyed by column name. Refused in read-only phases.
---@param tbl string a table name
---@param columns string[]
---@param rows table[]|fun(): table|nil
---@return integer rows
function db:copy_in(tbl, columns, rows) end

---Marks a table to bind as a PostgreSQL array ({1,2,3}) instead of JSON.
---@generic T: table
---@param t T
---@return T
function db.array(t) end

---@class moonshift.MigrationInfo
---@field version string "002"
---@field name string "backfill_slugs"

---The run around the script.
---@class moonshift.Ctx
---@field env string the environment's name
---@field phase moonshift.phase
---@field migration moonshift.MigrationInfo|nil set in a migration's phases
---@field dry_run boolean
---@field args string[]|nil arguments of `moonshift run FILE.lua ARGS`
ctx = {}

---Stops the run with exit code 3: "file:line: check failed: msg". pcall does not catch it.
---@param msg string
---@param level? integer 1 (default): the calling line; 2: its caller's
function ctx:fail(msg, level) end

---Ends this script quietly; the run records it as skipped. pcall does not catch it.
---@param msg? string
function ctx:skip(msg) end

---log.info(...)
---@param ... any
function ctx:log(...) end

---@class moonshift.Json
---@field null lightuserdata JSON null (the same value as db.null)
json = {}

---@class moonshift.JsonEncodeOptions
---@field indent? integer pretty-print with this many spaces

---Encodes a value; tables with keys 1..n are arrays, an empty table is {}.
---@param value any
---@param opts? moonshift.JsonEncodeOptions
---@return string
function json.encode(value, opts) end

---Decodes JSON text; null is json.null; arrays and objects remember their kind.
---@param text string
---@return any
function json.decode(text) end

---Marks a table (a new one when nil) to encode as a JSON array, even when empty.
---@param t? table
---@return table
function json.array(t) end

---Marks a table (a new one when nil) to encode as a JSON object, even when empty.
---@param t? table
---@return table
function json.object(t) end

---Lines for the run's log, with the script's file and line; secrets are redacted.
log = {}
---@param ... any joined with spaces; tables as JSON
function log.debug(...) end
---@param ... any
function log.info(...) end
---@param ... any
function log.warn(...) end
---@param ... any
function log.error(...) end

---Variables from the project's .env files, then the process environment.
env = {}

---@param name string
---@param default? string
---@return string|nil
function env.get(name, default) end

---The value; raises "variable NAME is not set" when missing or empty.
---@param name string
---@return string
function env.require(name) end

---@class moonshift.HttpResponse
---@field status integer
---@field ok boolean
---@field body string
---@field headers table<string, string> lower-case names
---@field json any decoded body when the answer is JSON
---@field attempts integer
---@field elapsed_ms number

---@class moonshift.HttpOptions
---@field headers? table<string, string>
---@field timeout? number|string seconds or "5s"
---@field retries? integer
---@field backoff? string "200ms"
---@field ca_file? string
---@field any_status? boolean return every HTTP answer instead of raising
---@field json? any
---@field body? string

---For hooks, checks and `moonshift run` (docs/hooks.md).
http = {}
---@param url string
---@param opts? moonshift.HttpOptions
---@return moonshift.HttpResponse
function http.get(url, opts) end
---@param url string
---@param body string|table a table is sent as JSON
---@param opts? moonshift.HttpOptions
---@return moonshift.HttpResponse
function http.post(url, body, opts) end
---@param req table {method=, url=, headers=, body=, json=, ...}
---@return moonshift.HttpResponse
function http.request(req) end
---@return moonshift.HttpResponse|nil, table|nil
function http.try_get(url, opts) end
---@return moonshift.HttpResponse|nil, table|nil
function http.try_post(url, body, opts) end
---@return moonshift.HttpResponse|nil, table|nil
function http.try_request(req) end
---@param key string
---@param data string
---@return string lower-case hex
function http.hmac_sha256(key, data) end

---For hooks, checks and `moonshift run` (docs/hooks.md).
mail = {}
---@param server table {url=, user=, password=, starttls=, ca_file=, timeout=, retries=, backoff=}
---@param message table {from=, to=, cc=, subject=, text=, html=}
function mail.send(server, message) end
---@return boolean|nil ok
---@return table|nil err
function mail.try_send(server, message) end

ci = {}
---Appends markdown to the GitHub Actions job summary; false outside GitHub Actions.
---@param markdown string
---@return boolean
function ci.summary(markdown) end

---@class moonshift.checks
local checks = {}
---@param max_seconds number
---@return true
function checks.no_long_running_transactions(max_seconds) end
---@param name string
---@return true
function checks.table_exists(name) end
---@param tbl string
---@param column string
---@return true
function checks.column_exists(tbl, column) end
---@param tbl string
---@return true
function checks.rls_enabled(tbl) end
---@param tbl string
---@param limit number|string bytes, or "10 MB"
---@return true
function checks.max_table_size(tbl, limit) end
---@param name string
---@return true
function checks.extension_installed(name) end

---@class moonshift.verify
local verify = {}
---@param sql string
---@param expected integer|{min?: integer, max?: integer}
---@param ... any parameters
---@return integer count
function verify.expect_rows(sql, expected, ...) end
---@param sql string
---@param msg string what the rows mean
---@param ... any parameters
---@return true
function verify.expect_no_rows(sql, msg, ...) end
---@param sql string
---@param value any
---@param ... any parameters
---@return any
function verify.expect_scalar(sql, value, ...) end
---@param tables string[]
---@return table<string, integer>
function verify.snapshot_row_counts(tables) end
---@param snapshot table<string, integer>
---@return true
function verify.row_counts_unchanged(snapshot) end

---Loads a module once per run: "moonshift.checks", "moonshift.verify", or the project's
---scripts/ ("lib.util" -> scripts/lib/util.lua).
---@overload fun(name: "moonshift.checks"): moonshift.checks
---@overload fun(name: "moonshift.verify"): moonshift.verify
---@param name string
---@return any
function require(name) end

---Health sampled between a backfill's batches, given to throttle.pause_when.
---@class moonshift.BackfillHealth
---@field replication_lag number seconds: the largest replay_lag of pg_stat_replication
---@field longest_transaction number seconds: the oldest open transaction of other client sessions
---@field autovacuum boolean (auto)vacuum works on the table
---@field lock_waits integer sessions the last batch made wait
---@field rows_done integer
---@field rows_per_second number
---@field batch_size integer
---@field table string

---@class moonshift.BackfillBatch
---@field size? integer a fixed number of rows per batch
---@field target? string|number duration of a batch ("300ms"; a number is seconds), adaptive
---@field start? integer first batch size (adaptive), default 1000
---@field min? integer default 100
---@field max? integer default 100000

---@class moonshift.BackfillThrottle
---@field max_rows_per_second? number
---@field max_replication_lag? string|number|false default "10s"
---@field max_transaction_age? string|number wait while another transaction is older
---@field pause_during_autovacuum? boolean
---@field pause_when? fun(health: moonshift.BackfillHealth): (string|boolean|nil) a reason to wait, or nil

---@class moonshift.BackfillSpec
---@field table string the table ("artworks", "public.artworks")
---@field key? string|string[] unique NOT NULL key column(s), default "id"
---@field where? string SQL condition selecting the rows
---@field set? table<string, string> column -> SQL expression
---@field transform? fun(row: moonshift.Row): table<string, any>|nil the new values of a row; nil leaves it
---@field columns? string[] the columns a transform returns
---@field batch? integer|string|moonshift.BackfillBatch
---@field throttle? moonshift.BackfillThrottle
---@field lock_timeout? string|number per batch
---@field keep_before? boolean save old values so that down restores them

---Declares a backfill (docs/backfills.md); phase up only. Runs after the migration's DDL committed.
---@param spec moonshift.BackfillSpec|moonshift.BackfillSpec[]
function backfill(spec) end

---@class moonshift.TriggerResult
---@field fired boolean true rolls the run back
---@field reason? string why, shown in the error, events and report

---The table a rollback trigger (scripts/triggers/*.lua) returns; docs/environments.md.
---@class moonshift.Trigger
---@field description? string
---@field baseline? fun(): any measured before the first migration; passed to check
---@field check fun(base: any): moonshift.TriggerResult called every sample of the watch window
