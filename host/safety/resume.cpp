// Did a statement that a dead run started take effect? The catalog answers
// for the statements that cannot run in a transaction block.
#include "safety/resume.hpp"

#include "db/quote.hpp"
#include "sql/sql.hpp"

namespace moonshift::safety {
namespace {

using json = nlohmann::json;

std::string text_of(const json& node, const char* key) {
    auto it = node.find(key);
    return it != node.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// ["s", "t"] from [{"String": {"sval": "s"}}, {"String": {"sval": "t"}}], quoted and dotted.
std::string quoted_name(const json& items) {
    std::string out;
    for (const auto& item : items) {
        auto s = item.find("String");
        if (s == item.end()) return {};
        out += (out.empty() ? "" : ".") + db::quote::ident(text_of(*s, "sval"));
    }
    return out;
}

bool exists(db::session& s, const std::string& sql, const std::string& name) {
    return !s.query(sql, name).empty();
}

resume_check index_built(db::session& s, const json& n) {
    auto name = text_of(n, "idxname");
    if (name.empty())
        return {effect::unknown,
                "the index has no name, so the catalog cannot tell whether the "
                "dead run built it: building it again (name your concurrent "
                "indexes to make this exact)"};
    auto schema = n.contains("relation") ? text_of(n["relation"], "schemaname") : "";
    auto r = s.query("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)",
                     db::quote::qualified(schema, name));
    if (r.empty()) return {effect::redo, "index " + name + " is not there: building it"};
    if (r[0][0].as<bool>())
        return {effect::done, "index " + name + " was built and is valid: not building it again"};
    return {effect::redo, "index " + name + " was left invalid: dropping it and building it again"};
}

resume_check dropped(db::session& s, const json& n) {
    if (n.value("removeType", "") != "OBJECT_INDEX") return {effect::unknown, {}};
    for (const auto& object : n.value("objects", json::array())) {
        auto list = object.find("List");
        if (list == object.end()) return {effect::unknown, {}};
        auto name = quoted_name(list->value("items", json::array()));
        if (name.empty()) return {effect::unknown, {}};
        if (!s.query("SELECT to_regclass($1)", name)[0][0].is_null())
            return {effect::redo, "index " + name + " is still there: dropping it"};
    }
    return {effect::done, "the index is gone already: not dropping it again"};
}

resume_check named(db::session& s, const std::string& what, const std::string& name,
                   const char* lookup, bool created) {
    bool there = exists(s, lookup, name);
    if (there == created) return {effect::done, what + " " + name + " took effect already"};
    return {effect::redo, what + " " + name + " did not take effect: running it"};
}

}  // namespace

resume_check took_effect(db::session& s, const std::string& statement_sql) {
    sql::script parsed;
    try {
        parsed = sql::parse(statement_sql, "");
    } catch (const sql::parse_error&) {
        return {effect::unknown,
                "the bundled parser does not know this statement, so the catalog "
                "cannot be asked whether it took effect: running it again"};
    }
    if (parsed.statements.size() != 1) return {effect::unknown, {}};
    const auto& st = parsed.statements[0];
    const auto& n = st.tree[st.kind];
    if (st.kind == "IndexStmt") return index_built(s, n);
    if (st.kind == "DropStmt") return dropped(s, n);
    if (st.kind == "CreatedbStmt")
        return named(s, "database", text_of(n, "dbname"),
                     "SELECT 1 FROM pg_database WHERE datname = $1", true);
    if (st.kind == "DropdbStmt")
        return named(s, "database", text_of(n, "dbname"),
                     "SELECT 1 FROM pg_database WHERE datname = $1", false);
    if (st.kind == "CreateTableSpaceStmt")
        return named(s, "tablespace", text_of(n, "tablespacename"),
                     "SELECT 1 FROM pg_tablespace WHERE spcname = $1", true);
    if (st.kind == "DropTableSpaceStmt")
        return named(s, "tablespace", text_of(n, "tablespacename"),
                     "SELECT 1 FROM pg_tablespace WHERE spcname = $1", false);
    if (st.kind == "CreateSubscriptionStmt")
        return named(s, "subscription", text_of(n, "subname"),
                     "SELECT 1 FROM pg_subscription WHERE subname = $1", true);
    // VACUUM, REINDEX, ALTER SYSTEM, ALTER DATABASE … SET TABLESPACE: the
    // same result when run twice.
    return {effect::redo, {}};
}

}  // namespace moonshift::safety
