// The pieces load() is made of: typed TOML values that fail with file:line,
// and the readers of the [notify] and [env.NAME] sections. Private to
// host/project/.
#pragma once
#include <toml++/toml.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "project/config.hpp"

namespace moonshift::project::detail {

// "a, b, c" for a hint listing valid keys.
std::string join(const std::set<std::string>& keys);

// Reads typed values of moonshift.toml; every failure is a usage error that
// names file:line and, where it helps, what would be valid.
struct reader {
    std::string file;

    std::string at(const toml::source_region& src) const;
    [[noreturn]] void fail(const toml::source_region& src, const std::string& what,
                           const std::string& hint = {}) const;
    void check_keys(const toml::table& t, const std::set<std::string>& allowed,
                    const std::string& section) const;
    std::string string_of(const toml::node& n, const std::string& key) const;
    bool bool_of(const toml::node& n, const std::string& key) const;
    // A whole number from 0 to `most`.
    int count_of(const toml::node& n, const std::string& key, int most = 1000000) const;
    std::vector<std::string> strings_of(const toml::node& n, const std::string& key) const;
    // "never" | "destructive" | "always".
    std::string policy_of(const toml::node& n, const std::string& key) const;
    // "files" | "database".
    std::string store_of(const toml::node& n, const std::string& key) const;
    // "auto" | "transaction" | "none" (docs/poolers.md).
    std::string pooler_of(const toml::node& n, const std::string& key) const;
    // "10MB", "512kB", "2GB", or a number of bytes.
    long long size_of(const toml::node& n, const std::string& key) const;
    std::chrono::milliseconds duration_of(const toml::node& n, const std::string& key) const;
    // 30 (seconds) or "30s".
    std::chrono::milliseconds seconds_of(const toml::node& n, const std::string& key) const;
};

// A hook or trigger setting as JSON; dates and times keep their TOML text.
nlohmann::json json_of(const toml::node& n);

// [notify.*] or [env.NAME.notify.*]: a table of hook sections.
void read_notify(const reader& r, const toml::node& n, const std::string& prefix,
                 std::map<std::string, notify_section>& out);

// One [env.NAME] section; key is its name in [env].
environment read_environment(const reader& r, const toml::key& key, const toml::node& value);

// [fleet.*]: every fleet section (fleet.cpp); after [env.*], which a fleet may name.
void read_fleets(const reader& r, const toml::node& n, config& cfg);

// The variables of the project's .env, overlaid by extra_dotenv (relative to
// root) when given; a named extra file that does not exist is an error.
std::map<std::string, std::string> project_vars(const std::filesystem::path& root,
                                                const std::string& extra_dotenv);

}  // namespace moonshift::project::detail
