// Lint of SQL migrations: every statement's parse tree goes to the rules
// (Lua scripts: the host's scripts/lint/ and the project's scripts/lint/),
// which may look at the target's catalog through facts prefetched in one
// query. `-- moonshift:allow RULE reason` before a statement suppresses a
// rule for it, and the reason is kept in the report.
#pragma once
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "db/session.hpp"
#include "project/config.hpp"
#include "sql/sql.hpp"

namespace moonshift::lua {
class runtime;
}

namespace moonshift::lint {

struct finding {
    std::string rule;      // "require-concurrent-index"
    std::string severity;  // "error" | "warning"
    std::string file;      // "migrations/003_x.sql"
    int line = 1, column = 1;
    std::size_t offset = 0;
    std::string message;
    std::string hint;
    std::string rule_file;  // "builtin:scripts/lint/x.lua" or "scripts/lint/x.lua"
    bool suppressed = false;
    std::string reason;  // of the moonshift:allow that suppressed it
};

// "migrations/003_x.sql:4:1: error require-concurrent-index: CREATE INDEX ..."
std::string format(const finding& f);
nlohmann::json to_json(const finding& f);

// A suppression read from the comments of a statement.
struct allowance {
    std::vector<std::string> rules;  // "all" allows every rule
    std::string reason;
    std::size_t offset = 0;  // of the directive, for messages
};
// The moonshift:allow directives of statement i of the script: in the
// comments between the previous statement and this one, inside it, or after
// it on its last line.
std::vector<allowance> allowances_of(std::string_view text, const sql::script& script,
                                     std::size_t i);

// What the catalog of the target says about a table a statement names.
struct table_info {
    bool known = false;    // false: not connected (offline)
    bool exists = false;   // in the database now
    bool created = false;  // created by an earlier statement of this lint run
    long long bytes = 0;   // pg_total_relation_size
    long long rows = -1;   // reltuples (estimate); -1 when never analyzed
    bool rls = false;
    std::string kind;       // "table", "partitioned table", "view", ...
    std::string qualified;  // schema.name as resolved by search_path
    nlohmann::json to_json() const;
};

struct file {
    std::string label;            // "migrations/003_x.sql"
    std::string_view text;        // the whole file
    const sql::script* script;    // parsed with trees
    bool no_transaction = false;  // the file has -- moonshift:no-transaction
};

struct rule_info {
    std::string name, description, severity, kinds, file;
    bool catalog = false;
};

struct result {
    std::vector<finding> findings;  // in file order; suppressed ones included
    int errors = 0, warnings = 0, suppressed = 0;
    long long catalog_queries = 0;  // round trips spent on catalog facts
    nlohmann::json to_json() const;
};

class linter {
  public:
    // Loads the built-in rules and the project's scripts/lint/*.lua (a
    // project rule of the same name replaces the built-in one). A rule that
    // does not load throws error(usage) naming its file. `session` may be
    // null (offline: table facts are unknown). `runtime` may be null: the
    // linter makes its own.
    linter(const project::config& cfg, db::session* session, lua::runtime* runtime = nullptr);
    ~linter();
    linter(const linter&) = delete;
    linter& operator=(const linter&) = delete;

    const std::vector<rule_info>& rules() const;
    // Lints the files in order (tables created by an earlier file count as
    // new in later ones). A rule that raises an error throws error(usage)
    // naming the rule file and the statement.
    result run(const std::vector<file>& files);

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// The built-in checks that are not rules (transactions.cpp), all errors:
// "transaction": a statement that cannot run in a transaction block, in a
// file that would run in one (no -- moonshift:no-transaction, no BEGIN/COMMIT
// of its own); "concurrently-in-transaction": such a statement between the
// file's own BEGIN and COMMIT; "transaction-nesting": a BEGIN inside an open
// transaction, or a COMMIT/ROLLBACK with none open; "unclosed-transaction": a
// BEGIN never committed or rolled back by the end of the file.
std::vector<finding> transaction_findings(const file& f);

}  // namespace moonshift::lint
