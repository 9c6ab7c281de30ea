// The fixture the lint suites share: files linted offline through the real
// Lua rules and the built-in transaction checks, and `expect_rule` — a
// statement that trips a rule and its safe form.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "lint/lint.hpp"
#include "project/config.hpp"
#include "support/harness.hpp"

namespace moonshift::test {

struct linted {
    std::vector<lint::finding> findings;
    std::vector<std::string> rules() const;  // rules that fired, unsuppressed
    bool has(const std::string& rule) const;
    std::string text() const;  // every finding, formatted, a line each
};

// Lints files in order (offline), with the project rooted in a temp dir.
struct linter_fixture {
    temp_dir dir;
    project::config cfg;
    linter_fixture() { cfg.root = dir.path; }

    linted run(const std::vector<std::pair<std::string, std::string>>& files);
    linted run(const std::string& text) { return run({{"migrations/002_x.sql", text}}); }
};

// A rule trips on `bad`, and not on `good`; each message names the rule.
void expect_rule(linter_fixture& fx, const std::string& rule, const std::string& bad,
                 const std::string& good);

}  // namespace moonshift::test
