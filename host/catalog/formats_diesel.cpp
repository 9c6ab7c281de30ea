// Diesel's layout: migrations/<version>_<name>/up.sql, down.sql and an
// optional metadata.toml (run_in_transaction = false). The version is the
// folder name before the first "_" without its dashes, as Diesel records it.
#include <toml++/toml.h>

#include <algorithm>
#include <map>
#include <regex>

#include "catalog/formats.hpp"
#include "common/error.hpp"
#include "common/text.hpp"

namespace moonshift::catalog {
namespace fs = std::filesystem;

bool diesel_claims_folders(const fs::path& dir, const fs::path& root) {
    static const std::regex dated(R"(^(\d{4}-\d{2}-\d{2}-\d{6}|\d{14})_.+$)");
    if (fs::exists(root / "diesel.toml") || fs::exists(dir.parent_path() / "diesel.toml"))
        return true;
    for (auto& e : sorted_entries(dir)) {  // checked: no loops, pipes or unreadable entries
        if (!e.is_directory()) continue;
        auto name = e.path().filename().string();
        if (name == "00000000000000_diesel_initial_setup" ||
            fs::exists(e.path() / "metadata.toml") ||
            (name.find('-') != std::string::npos && std::regex_match(name, dated)))
            return true;
    }
    return false;
}

catalog read_diesel(const format& fmt, const fs::path& dir, const fs::path& root) {
    catalog cat;
    cat.format = fmt.name;
    std::vector<fs::path> folders;
    for (auto& e : sorted_entries(dir))
        if (e.is_directory() && e.path().filename().string()[0] != '.') folders.push_back(e.path());
    std::sort(folders.begin(), folders.end());
    for (auto& f : folders) {
        std::string folder = f.filename().string();
        std::string label = rel_label(f, root);
        auto underscore = folder.find('_');
        std::string version = folder.substr(0, underscore);
        version.erase(std::remove(version.begin(), version.end(), '-'), version.end());
        if (underscore == std::string::npos || version.empty() ||
            !std::all_of(version.begin(), version.end(), ::isdigit))
            throw usage_error(
                label + ": the folder name does not start with a version",
                "name it like 2025-01-08-120000_create_users (diesel migration generate)");
        migration m;
        m.version = version;
        m.name = folder.substr(underscore + 1);
        m.kind = form::sql;
        m.up = f / "up.sql";
        m.up_label = rel_label(m.up, root);
        if (!fs::exists(m.up))
            throw usage_error(label + ": a Diesel migration folder without up.sql",
                              "add up.sql (and down.sql), or remove the folder");
        m.up_sql = read_checked(m.up, m.up_label);
        m.dir = read_directives(m.up_sql, m.up_label);
        if (fs::exists(f / "down.sql")) {
            m.down = f / "down.sql";
            m.down_label = rel_label(m.down, root);
            m.down_sql = read_checked(m.down, m.down_label);
            m.down_has_sql = has_sql(m.down_sql);
        }
        if (auto meta = f / "metadata.toml"; fs::exists(meta)) {
            try {
                auto doc = toml::parse_file(meta.string());
                if (auto in_tx = doc["run_in_transaction"].value<bool>(); in_tx && !*in_tx) {
                    m.dir.no_transaction = true;
                    m.dir.down_own_transaction = !m.down.empty();
                }
            } catch (const toml::parse_error& e) {
                throw usage_error(rel_label(meta, root) + ":" +
                                  std::to_string(e.source().begin.line) + ": " +
                                  std::string(e.description()));
            }
        }
        set_checksums(m);
        classify_transactions(m, fmt);
        cat.migrations.push_back(std::move(m));
    }
    sort_and_check(cat, fmt.order);
    return cat;
}

}  // namespace moonshift::catalog
