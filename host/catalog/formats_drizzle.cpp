// drizzle-kit's output folder as drizzle-kit writes it: NNNN_name.sql files
// in the order of meta/_journal.json ({idx, version, when, tag, breakpoints}),
// statements split on `--> statement-breakpoint`, and meta/ (the journal and
// the snapshots) never taken for a migration.
#include <cctype>
#include <nlohmann/json.hpp>
#include <set>

#include "catalog/formats.hpp"
#include "common/error.hpp"
#include "common/text.hpp"

namespace moonshift::catalog {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view breakpoint = "--> statement-breakpoint";
const std::string journal_hint =
    "drizzle-kit writes it: run `drizzle-kit generate` again, or restore meta/_journal.json from "
    "version control";

struct journal_entry {
    long long idx = 0, when = 0;
    std::string tag;
};

// The journal's entries, checked: a malformed one names the file and where.
std::vector<journal_entry> read_journal(const fs::path& file, const std::string& label) {
    auto text = read_checked(file, label);
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        auto pos = text::position_of(text, e.byte > 0 ? e.byte - 1 : 0);
        throw usage_error(label + ":" + std::to_string(pos.line) + ":" +
                              std::to_string(pos.column) + ": not valid JSON",
                          journal_hint);
    }
    if (!doc.is_object() || !doc.contains("entries") || !doc["entries"].is_array())
        throw usage_error(label + ": no \"entries\" list: not a drizzle-kit journal", journal_hint);
    if (auto d = doc.value("dialect", std::string("postgresql")); d != "postgresql" && d != "pg")
        throw usage_error(label + ": the journal is for " + d + ", not PostgreSQL",
                          "point [project] migrations at the PostgreSQL migrations folder");
    std::vector<journal_entry> out;
    std::size_t n = 0;
    for (auto& e : doc["entries"]) {
        ++n;
        auto where = label + ": entry " + std::to_string(n);
        if (!e.is_object() || !e.contains("tag") || !e["tag"].is_string() || !e.contains("when") ||
            !e["when"].is_number_integer())
            throw usage_error(where + " needs a \"tag\" (text) and a \"when\" (milliseconds)",
                              journal_hint);
        journal_entry j;
        j.tag = e["tag"].get<std::string>();
        j.when = e["when"].get<long long>();
        j.idx = e.value("idx", static_cast<long long>(n - 1));
        if (j.tag.empty() || j.tag.find('/') != std::string::npos)
            throw usage_error(where + ": the tag \"" + j.tag + "\" is not a file name",
                              journal_hint);
        out.push_back(j);
    }
    return out;
}

// "0003_add_slug" → {"0003", "add_slug"}; a tag without a leading number
// (drizzle-kit's prefix "none") takes its index as the version.
std::pair<std::string, std::string> version_and_name(const journal_entry& j) {
    std::size_t digits = 0;
    while (digits < j.tag.size() && std::isdigit(static_cast<unsigned char>(j.tag[digits])))
        ++digits;
    if (digits > 0 && digits < j.tag.size() && j.tag[digits] == '_')
        return {j.tag.substr(0, digits), j.tag.substr(digits + 1)};
    auto v = std::to_string(j.idx);
    if (v.size() < 4) v = std::string(4 - v.size(), '0') + v;
    return {v, j.tag};
}

// drizzle's migrator runs each piece between breakpoints as a statement of
// its own: the marker becomes `;` and spaces, every line and column kept.
std::string split_on_breakpoints(std::string sql) {
    for (auto at = sql.find(breakpoint); at != std::string::npos; at = sql.find(breakpoint, at + 1))
        sql.replace(at, breakpoint.size(), ";" + std::string(breakpoint.size() - 1, ' '));
    return sql;
}

// A .sql file the journal does not name would be skipped in silence by
// drizzle's migrator; moonshift says so.
void refuse_strays(const fs::path& dir, const fs::path& root, const std::set<std::string>& named,
                   const std::string& journal_label) {
    for (auto& e : sorted_entries(dir)) {
        auto file = e.path().filename().string();
        if (e.is_directory() || e.path().extension() != ".sql" || file[0] == '.') continue;
        if (!named.count(file))
            throw usage_error(rel_label(e.path(), root) + ": not in " + journal_label +
                                  ", so drizzle's migrator never runs it",
                              "add it with `drizzle-kit generate --custom` (and move the SQL "
                              "there), or move it out of the folder");
    }
}

}  // namespace

catalog read_drizzle(const format& f, const fs::path& dir, const fs::path& root) {
    catalog cat;
    cat.format = f.name;
    auto journal = dir / f.marker_file;
    auto journal_label = rel_label(journal, root);
    std::set<std::string> named;
    std::string previous;
    std::size_t n = 0;
    for (auto& j : read_journal(journal, journal_label)) {
        ++n;
        auto file = dir / (j.tag + ".sql");
        auto label = rel_label(file, root);
        if (!fs::is_regular_file(file))
            throw usage_error(journal_label + ": entry " + std::to_string(n) + " (tag \"" + j.tag +
                                  "\") names " + label + ", which does not exist",
                              "restore " + label +
                                  " from version control, or drop the migration with "
                                  "`drizzle-kit drop`");
        named.insert(j.tag + ".sql");
        migration m;
        std::tie(m.version, m.name) = version_and_name(j);
        if (!previous.empty() && compare_versions(m.version, previous) <= 0)
            throw usage_error(journal_label + ": entry " + std::to_string(n) + " (tag \"" + j.tag +
                                  "\") does not come after version " + previous,
                              "keep the journal in the order drizzle-kit wrote it");
        previous = m.version;
        m.kind = form::sql;
        m.up = file;
        m.up_label = label;
        m.tool_when = j.when;
        auto content = read_checked(file, label);
        m.dir = read_directives(content, label);
        m.up_sql = split_on_breakpoints(content);
        if (!has_sql(m.up_sql))
            throw usage_error(label + ": the migration is empty",
                              "write its SQL, or drop it with `drizzle-kit drop`");
        set_checksums(m);
        classify_transactions(m, f);
        cat.migrations.push_back(std::move(m));
    }
    refuse_strays(dir, root, named, journal_label);
    sort_and_check(cat, f.order);
    return cat;
}

}  // namespace moonshift::catalog
