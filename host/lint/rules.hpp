// The lint rules as Lua scripts: the host's scripts/lint/*.lua (embedded)
// and the project's scripts/lint/*.lua, loaded once into the run's Lua
// runtime and called statement by statement. Internal to the linter.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "db/session.hpp"
#include "lint/lint.hpp"
#include "lua/record.hpp"
#include "project/config.hpp"

namespace moonshift::lua {
class runtime;
}

namespace moonshift::lint {

class rule_set {
  public:
    // Throws error(usage) naming the rule file for a rule that does not
    // load, and naming moonshift.toml for an unknown rule in [lint].
    // Without a runtime the set makes its own, on `session` (may be null).
    rule_set(const project::config& cfg, lua::runtime* runtime, db::session* session = nullptr);
    ~rule_set();
    rule_set(const rule_set&) = delete;
    rule_set& operator=(const rule_set&) = delete;

    const std::vector<rule_info>& infos() const { return infos_; }
    // The rules that look at statements of this kind (node name).
    const std::vector<std::size_t>& for_kind(const std::string& kind) const;

    void start(const nlohmann::json& options);
    // Runs rule r's check on one statement; findings carry offset, rule,
    // severity, message and hint (positions are the linter's job).
    std::vector<finding> check(std::size_t r, const nlohmann::json& stmt, const sql::statement& st,
                               const std::string& file_label);
    // Every rule of `rules` on one statement, the statement (its fields, the
    // parse tree among them, not copied) converted to Lua once.
    std::vector<finding> check_all(const std::vector<std::size_t>& rules,
                                   const lua::json_record& stmt, const sql::statement& st,
                                   const std::string& file_label);
    std::vector<finding> finish(const nlohmann::json& options);

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
    std::vector<rule_info> infos_;
};

}  // namespace moonshift::lint
