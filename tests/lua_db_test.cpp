// The db module against a real PostgreSQL: type conversions both ways, bound
// parameters, streaming, savepoints, try_* forms, COPY, refusal of
// transaction control, read-only phases and the deadline.
#define BOOST_TEST_DYN_LINK
#include <libpq-fe.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "db/session.hpp"
#include "lua/runtime.hpp"
#include "support/harness.hpp"
#include "support/lua.hpp"

namespace lua = moonshift::lua;
namespace db = moonshift::db;
using lua::phase;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

struct lua_db : moonshift::test::fresh_session, moonshift::test::lua_runner {
    lua_db() : lua_runner(&session, options(), "scripts/t.lua", phase::up) {}

    static lua::options options() {
        lua::options o;
        o.env_name = "test";
        return o;
    }

    // What another session sees: only committed data.
    std::string committed(const std::string& sql) {
        pqxx::connection c(url);
        pqxx::nontransaction tx(c);
        auto r = tx.exec(sql);
        return r.empty() || r[0][0].is_null() ? "" : r[0][0].as<std::string>();
    }

    PGTransactionStatusType transaction_status() { return PQtransactionStatus(session.raw()); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(lua_db)

BOOST_FIXTURE_TEST_CASE(query_converts_postgres_types_to_lua_values, lua_db) {
    asserts(R"lua(
local r = db:query([=[
  select 1::int2 as i2, 2::int4 as i4, 3::int8 as i8, 9007199254740993::int8 as big,
         1.5::float4 as f4, 2.25::float8 as f8, 12.340::numeric as num,
         12345678901234567890.123::numeric as bignum, 'NaN'::float8 as nan,
         true as yes, false as no, null::int as nothing, 'x'::text as txt,
         '{"a": [1, 2, null], "b": {"c": "d"}}'::jsonb as doc, '[]'::json as empty,
         array[1, 2, 3] as ints, array['a b', 'c"d', null, 'e\f'] as texts,
         array[[1, 2], [3, 4]] as grid, '{}'::int[] as none,
         array['{"k": 1}'::jsonb] as docs, '2024-01-02'::date as day,
         'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid as id, 42::oid as o
]=])
assert(#r == 1, "one row")
local row = r[1]
assert(row.i2 == 1 and row.i4 == 2 and row.i8 == 3, "integers are numbers")
assert(row.big == "9007199254740993", "an int8 a double cannot hold stays text: " .. tostring(row.big))
assert(row.f4 == 1.5 and row.f8 == 2.25, "floats")
assert(row.num == 12.34, "numeric that fits is a number")
assert(row.bignum == "12345678901234567890.123", "numeric that does not fit stays text")
assert(row.nan ~= row.nan, "NaN")
assert(row.yes == true and row.no == false, "booleans")
assert(row.nothing == nil, "NULL is nil")
assert(row.txt == "x")
assert(row.doc.a[1] == 1 and row.doc.a[3] == json.null and row.doc.b.c == "d", "jsonb is decoded")
assert(json.encode(row.empty) == "[]", "an empty JSON array stays an array")
assert(#row.ints == 3 and row.ints[3] == 3, "int[]")
assert(row.texts[1] == "a b" and row.texts[2] == 'c"d' and row.texts[3] == json.null and row.texts[4] == "e\\f",
       "text[] with quotes, NULL and backslash")
assert(row.grid[2][1] == 3, "two dimensions")
assert(#row.none == 0, "empty array")
assert(row.docs[1].k == 1, "jsonb[]")
assert(row.day == "2024-01-02" and row.o == 42)
assert(row.id == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "other types are text")
)lua");
}

BOOST_FIXTURE_TEST_CASE(lua_values_are_bound_as_parameters, lua_db) {
    asserts(R"lua(
assert(db:scalar("select $1::int is null", nil) == true, "nil is NULL")
assert(db:scalar("select $1::int is null", db.null) == true, "db.null is NULL")
assert(db:scalar("select $1::boolean", true) == true)
assert(db:scalar("select $1::text", 42) == "42", "integers have no .0")
assert(db:scalar("select $1::text", 1.5) == "1.5")
assert(db:scalar("select $1::numeric = 0.1", 0.1) == true, "shortest decimal for doubles")
assert(db:scalar("select $1::text", "é'\"") == "é'\"")
assert(db:scalar("select $1::jsonb ->> 'name'", { name = "x", tags = { 1, 2 } }) == "x", "tables are JSON")
assert(db:scalar("select jsonb_typeof($1::jsonb)", json.array()) == "array")
assert(db:scalar("select $1::int[] = '{1,2,3}'", db.array({ 1, 2, 3 })) == true, "db.array binds an array")
assert(db:scalar("select $1::text[]", db.array({ 'a"b', json.null })) [2] == json.null)
local back = db:scalar("select $1::int[]", db:scalar("select array[4, 5]"))
assert(back[2] == 5, "arrays read from the database bind back as arrays")
assert(db:scalar("select $1::bigint + $2", 2^40, 1) == 2^40 + 1)
local ok, err = pcall(db.scalar, db, "select $1::text", function() end)
assert(not ok and err:find("db:scalar: parameter $1: cannot bind a value of type function", 1, true), err)
)lua");
}

BOOST_FIXTURE_TEST_CASE(an_injection_attempt_stays_a_literal, lua_db) {
    asserts(R"lua(
db:exec("create table people (name text)")
local evil = "x'); drop table people; --"
assert(db:exec("insert into people (name) values ($1)", evil) == 1)
assert(db:scalar("select name from people") == evil)
assert(db:scalar("select count(*) from people where name = $1", "' or '1'='1") == 0)
)lua");
    BOOST_TEST(committed("select count(*) from people") == "1");
}

BOOST_FIXTURE_TEST_CASE(exec_returns_affected_rows_and_scalar_nil_for_no_rows, lua_db) {
    asserts(R"lua(
db:exec("create table t (id int primary key, v text)")
assert(db:exec("insert into t select g, 'x' from generate_series(1, 3) g") == 3)
assert(db:exec("update t set v = 'y' where id > $1", 1) == 2)
assert(db:exec("create index on t (v)") == 0)
assert(db:scalar("select v from t where id = 99") == nil)
assert(#db:query("select * from t where false") == 0)
local rows = db:query("select id, v from t order by id")
assert(#rows == 3 and rows[1].id == 1 and rows[3].v == "y")
)lua");
}

BOOST_FIXTURE_TEST_CASE(each_streams_rows_with_constant_memory, lua_db) {
    asserts(R"lua(
collectgarbage("count")
local base = collectgarbage("count")
local peak, n, sum = base, 0, 0
local seen = db:each("select g as id, repeat('x', 200) as pad from generate_series(1, $1) g", 200000, function(row)
  n = n + 1
  sum = sum + row.id
  if n % 5000 == 0 then
    local kb = collectgarbage("count")
    if kb > peak then peak = kb end
  end
end)
assert(seen == 200000 and n == 200000, "every row once: " .. n)
assert(sum == 200000 * 200001 / 2)
-- All rows held at once would need well over 40 MB; streaming stays far below.
assert(peak - base < 16 * 1024, string.format("Lua heap grew by %.0f KB", peak - base))
log.info(string.format("each: heap grew by %.0f KB", peak - base))
)lua");
    BOOST_TEST_MESSAGE(last_log());
    BOOST_TEST(rt.memory_bytes() < 32u * 1024 * 1024);
    BOOST_TEST(transaction_status() == PQTRANS_IDLE,
               "db:each outside a transaction cleans up its own");
    asserts(R"lua(
local n = db:each("select g from generate_series(1, 5000) g", function(row)
  if row.g == 1500 then return false end
end)
assert(n == 1500, "returning false stops: " .. n)
-- a callback may use the database between batches
db:exec("create table seen (g int)")
db:each("select g from generate_series(1, 3) g", function(r) db:exec("insert into seen values ($1)", r.g) end)
assert(db:scalar("select count(*) from seen") == 3)
)lua");
}

BOOST_FIXTURE_TEST_CASE(each_inside_the_transaction_and_its_errors, lua_db) {
    session.exec_script("BEGIN");
    asserts(R"lua(
db:exec("create table t (id int)")
db:exec("insert into t select generate_series(1, 2500)")
assert(db:each("select id from t", function() end) == 2500, "sees the transaction's own rows")
local ok, err = pcall(db.each, db, "select id from t", function(row)
  if row.id == 1200 then error({ reason = "stop here" }) end
end)
assert(not ok and err.reason == "stop here", "the callback's error comes out unchanged")
assert(db:scalar("select count(*) from t") == 2500, "the transaction survives a Lua error in the callback")
local ok2, err2 = pcall(db.each, db, "insert into t values (1) returning id", print)
assert(not ok2 and err2:find("db:each: streams the rows of a query", 1, true), err2)
)lua");
    BOOST_TEST(transaction_status() == PQTRANS_INTRANS);
    session.exec_script("ROLLBACK");
}

BOOST_FIXTURE_TEST_CASE(transaction_is_a_savepoint_released_or_rolled_back, lua_db) {
    session.exec_script("BEGIN");
    ok(R"lua(
db:exec("create table t (id int primary key)")
local a, b = db:transaction(function(d)
  assert(d == db)
  d:exec("insert into t values (1)")
  return "x", 2
end)
assert(a == "x" and b == 2, "returns what fn returns")
local ok, err = pcall(db.transaction, db, function()
  db:exec("insert into t values (2)")
  db:exec("insert into t values (1)")  -- duplicate key
end)
assert(not ok and err.sqlstate == "23505", "the SQL error comes out as its table")
assert(db:scalar("select count(*) from t") == 1, "row 2 was rolled back with the savepoint")
ok, err = pcall(db.transaction, db, function()
  db:exec("insert into t values (3)")
  db:transaction(function() db:exec("insert into t values (4)") end)
  error("boom")
end)
assert(not ok and err:find("scripts/t.lua:18: boom", 1, true), err)
assert(db:scalar("select count(*) from t") == 1, "nested savepoints roll back with the outer one")
ok, err = pcall(db.transaction, db, function()
  pcall(db.exec, db, "insert into t values (1)")  -- caught, but the savepoint is now failed
end)
assert(not ok and err:find("a statement inside failed", 1, true), tostring(err))
assert(db:scalar("select count(*) from t") == 1)
)lua");
    BOOST_TEST(transaction_status() == PQTRANS_INTRANS);
    session.exec_script("COMMIT");
    BOOST_TEST(committed("select count(*) from t") == "1");
}

BOOST_FIXTURE_TEST_CASE(transaction_outside_a_transaction_is_one, lua_db) {
    ok(R"lua(
db:exec("create table t (id int)")
pcall(db.transaction, db, function() db:exec("insert into t values (1)") error("no") end)
db:transaction(function() db:exec("insert into t values (2)") end)
)lua");
    BOOST_TEST(committed("select string_agg(id::text, ',') from t") == "2");
    BOOST_TEST(transaction_status() == PQTRANS_IDLE);
}

BOOST_FIXTURE_TEST_CASE(try_forms_return_nil_and_error_and_keep_the_transaction, lua_db) {
    session.exec_script("BEGIN");
    asserts(R"lua(
db:exec("create table t (id int primary key)")
db:exec("insert into t values (1)")
local rows, err = db:try_query("select * from nope")
assert(rows == nil, "nil on failure")
assert(err.sqlstate == "42P01" and err.message == 'relation "nope" does not exist', err.message)
assert(err.query == "select * from nope" and err.position == 15, "query and position")
assert(tostring(err) == 'scripts/t.lua:4: relation "nope" does not exist (42P01)', tostring(err))
local n, err2 = db:try_exec("insert into t values ($1)", 1)
assert(n == nil and err2.sqlstate == "23505" and err2.detail:find("already exists", 1, true), "detail")
assert(db:scalar("select count(*) from t") == 1, "the transaction goes on after a failed try")
assert(db:try_scalar("select 7") == 7, "a success returns the value")
assert(db:try_exec("insert into t values (2)") == 1)
)lua");
    BOOST_TEST(transaction_status() == PQTRANS_INTRANS);
    session.exec_script("COMMIT");
    BOOST_TEST(committed("select count(*) from t") == "2");
}

BOOST_FIXTURE_TEST_CASE(an_uncaught_sql_error_is_a_located_script_error, lua_db) {
    auto e = error_of("local a = 1\nlocal rows = db:query('select * from missing_table')\n");
    std::string m = e.what();
    BOOST_TEST(
        m.rfind("scripts/t.lua:2: relation \"missing_table\" does not exist (42P01)", 0) == 0, m);
    BOOST_TEST_REQUIRE(e.sql().has_value());
    BOOST_TEST(e.sql()->sqlstate == "42P01");
    BOOST_TEST(e.query() == "select * from missing_table");
    BOOST_TEST(e.line() == 2);
    auto hinted =
        error_of("db:exec('create table t (id int)')\ndb:exec('insert into t values (1, 2)')");
    BOOST_TEST(contains(hinted.what(),
                        "scripts/t.lua:2: INSERT has more expressions than target columns (42601)"),
               hinted.what());
}

BOOST_FIXTURE_TEST_CASE(transaction_control_and_several_statements_are_refused, lua_db) {
    session.exec_script("BEGIN");
    for (std::string sql :
         {"COMMIT", "rollback", "begin", "END", "abort", "start transaction", "savepoint x",
          "release savepoint x", "rollback to savepoint x", "prepare transaction 'x'",
          "commit prepared 'x'", "  -- comment\n  COMMIT"}) {
        auto e = error_of("db:exec([[" + sql + "]])");
        BOOST_TEST(contains(e.what(), "scripts/t.lua:1: db:exec: cannot run transaction control"),
                   e.what());
        BOOST_TEST(contains(e.what(), "the host owns the transaction"), e.what());
        BOOST_TEST(transaction_status() == PQTRANS_INTRANS,
                   "the host's transaction is still open after " << sql);
    }
    auto e = error_of("db:query('select 1; select 2')");
    BOOST_TEST(contains(e.what(), "db:query: takes one statement, got 2"), e.what());
    e = error_of("db:query('select 1; commit')");
    BOOST_TEST(contains(e.what(), "takes one statement, got 2"), e.what());
    e = error_of("db:exec('   ')");
    BOOST_TEST(contains(e.what(), "db:exec: the SQL text is empty"), e.what());
    e = error_of("db:exec([[copy (select 1) to stdout]])");
    BOOST_TEST(contains(e.what(), "use db:copy_in or db:copy_out"), e.what());
    BOOST_TEST(transaction_status() == PQTRANS_INTRANS);
    session.exec_script("ROLLBACK");
}

BOOST_FIXTURE_TEST_CASE(read_only_phases_refuse_writes_naming_the_phase, lua_db) {
    ok("db:exec('create table t (id int)')");
    for (auto p : {phase::precheck, phase::verify, phase::check, phase::hook}) {
        std::string name = lua::phase_name(p);
        auto e = error_of(
            "local n = db:scalar('select count(*) from t')\ndb:exec('insert into t values (1)')",
            p);
        BOOST_TEST(std::string(e.what()) == "scripts/t.lua:2: db:exec is not allowed in phase \"" +
                                                name + "\" (read-only)",
                   e.what());
        e = error_of("db:copy_in('t', {'id'}, {{1}})", p);
        BOOST_TEST(
            contains(e.what(), "db:copy_in is not allowed in phase \"" + name + "\" (read-only)"),
            e.what());
        // Writing through db:query is stopped by the server, and the message says why.
        e = error_of("db:query('insert into t values (1) returning id')", p);
        BOOST_TEST(contains(e.what(), "cannot execute INSERT in a read-only transaction (25006)"),
                   e.what());
        BOOST_TEST(contains(e.what(), "HINT: phase \"" + name + "\" is read-only"), e.what());
        e = error_of("db:query('set transaction_read_only = off')", p);
        BOOST_TEST(contains(e.what(), "read-only"), e.what());
        BOOST_TEST(transaction_status() == PQTRANS_IDLE,
                   "a read-only phase leaves no transaction behind");
    }
    BOOST_TEST(committed("select count(*) from t") == "0");
}

BOOST_FIXTURE_TEST_CASE(verify_sees_the_migration_and_leaves_its_transaction_writable, lua_db) {
    auto m = rt.load_migration("migrations/002_fill.lua", R"lua(
return {
  up = function(db) db:exec("create table t (id int)") db:exec("insert into t values (1), (2)") end,
  verify = function(db, ctx)
    local n = db:scalar("select count(*) from t")
    if n ~= 2 then ctx:fail("expected 2 rows, found " .. n) end
    db:query("select set_config('moonshift.probe', 'verify', true)")
  end,
})lua");
    session.exec_script("BEGIN");
    rt.run_phase(m, "up", phase::up, nullptr);
    rt.run_phase(m, "verify", phase::verify, nullptr);
    BOOST_TEST(transaction_status() == PQTRANS_INTRANS);
    // The history row can still be written in the same transaction.
    BOOST_CHECK_NO_THROW(session.exec_script("insert into t values (3)"));
    session.exec_script("COMMIT");
    BOOST_TEST(committed("select count(*) from t") == "3");
}

BOOST_FIXTURE_TEST_CASE(copy_in_and_copy_out_move_rows_through_copy, lua_db) {
    asserts(R"lua(
db:exec("create table t (id int, note text, doc jsonb, \"order\" int)")
local n = db:copy_in("t", { "id", "note", "doc", "order" }, {
  { 1, "tab\there", { a = 1 }, 10 },
  { 2, "new\nline \\ slash", nil, 20 },
  { id = 3, note = "by name", order = 30 },
})
assert(n == 3, "three rows in: " .. tostring(n))
local i = 0
n = db:copy_in("public.t", { "id" }, function()
  i = i + 1
  if i <= 1000 then return { 100 + i } end
end)
assert(n == 1000)
assert(db:scalar("select note from t where id = 2") == "new\nline \\ slash", "escapes survive")
assert(db:scalar("select doc->>'a' from t where id = 1") == "1")
assert(db:scalar("select doc from t where id = 2") == nil)
local lines = {}
local rows = db:copy_out("select id, note from t where id <= 3 order by id", function(line) lines[#lines + 1] = line end)
assert(rows == 3 and #lines == 3, "three lines out")
assert(lines[1] == "1\ttab\\there", lines[1])
local csv = {}
db:copy_out("select id, \"order\" from t where id = 1", function(l) csv[#csv + 1] = l end, { format = "csv", header = true })
assert(csv[1] == "id,order" and csv[2] == "1,10", table.concat(csv, "|"))
local count = 0
db:copy_out("t", function() count = count + 1 end)
assert(count == 1003)
)lua");
    auto e = error_of("db:copy_out('t', function(line) db:query('select 1') end)");
    BOOST_TEST(contains(e.what(), "db:query cannot run while db:copy_out is streaming"), e.what());
    e = error_of(
        "local k = 0\ndb:copy_in('t', {'id'}, function() k = k + 1 if k > 5 then error('stop') end "
        "return {k} end)");
    BOOST_TEST(contains(e.what(), "scripts/t.lua:2: stop"), e.what());
    e = error_of("db:copy_in('t', {'id'}, {{1}, 'oops'})");
    BOOST_TEST(contains(e.what(), "db:copy_in: row 2 is a string, not a table"), e.what());
    e = error_of("db:copy_in('t; drop table t', {'id'}, {})");
    BOOST_TEST(contains(e.what(), "is not a table name"), e.what());
    BOOST_TEST(committed("select count(*) from t") == "1003", "failed copies wrote nothing");
    asserts("assert(db:scalar('select 1') == 1, 'the connection is usable after failed copies')");
}

BOOST_FIXTURE_TEST_CASE(wrong_argument_types_to_db_calls_are_located, lua_db) {
    auto e = error_of("local x = 1\nlocal rows = db:query(42)");
    BOOST_TEST(std::string(e.what()) ==
                   "scripts/t.lua:2: db:query: argument #1 must be SQL text (a string), got number",
               e.what());
    e = error_of("db.query('select 1')");
    BOOST_TEST(
        contains(e.what(), "scripts/t.lua:1: db:query: call it with a colon, as db:query(...)"),
        e.what());
    e = error_of("db:each('select 1')");
    BOOST_TEST(contains(e.what(), "db:each: argument #1 must be a function to call with each row"),
               e.what());
    e = error_of("db:transaction('not a function')");
    BOOST_TEST(contains(e.what(), "db:transaction: argument #1 must be a function, got string"),
               e.what());
}

BOOST_FIXTURE_TEST_CASE(a_script_looping_forever_on_the_database_is_stopped_by_the_deadline,
                        lua_db) {
    rt.set_deadline(std::chrono::milliseconds(300));
    for (std::string code :
         {"while true do db:scalar('select 1') end",
          "while true do pcall(db.scalar, db, 'select 1') end",
          // generate_series materialises its rows; a join of two streams them
          "db:each('select a from generate_series(1, 100000) a, generate_series(1, 100000) b', "
          "function() end)",
          "db:transaction(function() while true do db:try_exec('select 1') end end)"}) {
        auto t0 = std::chrono::steady_clock::now();
        auto e = error_of(code, phase::up);
        auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - t0)
                        .count();
        BOOST_TEST(e.timed_out(), e.what());
        BOOST_TEST(
            contains(e.what(),
                     "scripts/t.lua:1: script exceeded its time budget of 300 ms in phase \"up\""),
            e.what());
        BOOST_TEST(took < 10000, "stopped after " << took << " ms");
        BOOST_TEST(transaction_status() == PQTRANS_IDLE);
    }
    rt.set_deadline(std::chrono::milliseconds(0));
    asserts("assert(db:scalar('select 1') == 1)");
}

BOOST_FIXTURE_TEST_CASE(the_database_is_not_reachable_while_a_file_loads, lua_db) {
    try {
        rt.load_migration("migrations/003_eager.lua", "local n = db:scalar('select 1')\nreturn {}");
        BOOST_FAIL("db at load time must fail");
    } catch (const lua::script_error& e) {
        BOOST_TEST(contains(e.what(),
                            "migrations/003_eager.lua:1: db:scalar: the database is not available "
                            "while a file loads"),
                   e.what());
    }
}

BOOST_AUTO_TEST_SUITE_END()
