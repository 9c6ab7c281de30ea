// Which layout a migrations directory holds. Every file votes for the tools
// whose naming it fits; files that only one tool writes decide, and two
// deciding votes for different tools are an error naming one file of each.
#include "catalog/formats.hpp"

#include <algorithm>
#include <map>
#include <regex>

#include "common/error.hpp"
#include "common/text.hpp"

namespace moonshift::catalog {
namespace fs = std::filesystem;

const std::vector<std::string>& format_names() {
    static const std::vector<std::string> names = {"native",  "supabase", "golang-migrate",
                                                   "up-down", "dbmate",   "flyway",
                                                   "sqitch",  "diesel",   "postgres-migrations"};
    return names;
}

namespace {

bool has_dbmate_marker(const fs::path& p) {
    std::string content;
    try {
        content = text::read_file(p);
    } catch (...) {
        return false;  // the reader reports unreadable files
    }
    static const std::regex marker(R"((^|\n)[ \t]*--[ \t]*migrate:up\b)");
    bool found = std::regex_search(content, marker);
    remember_content(p, std::move(content));
    return found;
}

bool is_diesel_folder_name(const std::string& name) {
    static const std::regex dated(R"(^(\d{4}-\d{2}-\d{2}-\d{6}|\d{14})_.+$)");
    return std::regex_match(name, dated);
}

bool diesel_hints(const fs::path& dir, const fs::path& root) {
    if (fs::exists(root / "diesel.toml") || fs::exists(dir.parent_path() / "diesel.toml"))
        return true;
    for (auto& e : fs::directory_iterator(dir)) {
        if (!e.is_directory()) continue;
        auto name = e.path().filename().string();
        if (name == "00000000000000_diesel_initial_setup" ||
            fs::exists(e.path() / "metadata.toml") ||
            (name.find('-') != std::string::npos && is_diesel_folder_name(name)))
            return true;
    }
    return false;
}

// The format a directory entry votes for: "" when it does not take part
// (README.md, .conf files, R__ repeatables that two formats share, names no
// tool would read — the chosen reader reports those).
std::string vote(const fs::directory_entry& e, bool diesel) {
    std::string file = e.path().filename().string();
    if (file.empty() || file[0] == '.') return "";
    if (e.is_directory()) {
        if (!std::regex_match(file, std::regex(R"(^\d[\d\-]*_.+$)"))) return "";
        return diesel ? "diesel" : "native";
    }
    auto ext = e.path().extension().string();
    if (ext == ".lua") return "native";
    if (ext != ".sql") return "";
    static const std::regex flyway(R"(^[VUB]\d+([._]\d+)*__.+\.sql$)");
    static const std::regex updown(R"(^V\d+\.[^.]+\.(up|down)\.sql$)");
    static const std::regex pgmig(R"(^\d+-.+\.sql$)");
    static const std::regex golang(R"(^\d+_.+\.(up|down)\.sql$)");
    static const std::regex plain(R"(^\d+(\.\d+)*_.+\.sql$)");
    if (file.rfind("R__", 0) == 0) return "";
    if (std::regex_match(file, flyway)) return "flyway";
    if (std::regex_match(file, updown)) return "up-down";
    if (std::regex_match(file, pgmig)) return "postgres-migrations";
    if (std::regex_match(file, golang)) return "golang-migrate";
    if (std::regex_match(file, plain)) return has_dbmate_marker(e.path()) ? "dbmate" : "native";
    return "";
}

bool ends_with_supabase(const fs::path& dir) {
    auto norm = dir.lexically_normal();
    if (norm.filename().empty()) norm = norm.parent_path();
    return norm.filename() == "migrations" && norm.parent_path().filename() == "supabase";
}

// Where the other tools keep their files by default, tried when the
// configured directory is moonshift's default and does not exist.
std::optional<fs::path> default_place(fs::path dir, const fs::path& root) {
    if (dir.filename().empty()) dir = dir.parent_path();  // "root/./" → "root"
    if (fs::is_directory(dir)) return dir;
    if (dir.lexically_normal() != (root / "migrations").lexically_normal()) return std::nullopt;
    for (auto candidate : {root / "supabase" / "migrations", root / "db" / "migrations"})
        if (fs::is_directory(candidate)) return candidate;
    if (fs::exists(root / "sqitch.plan")) return root;
    return std::nullopt;
}

std::string decide(const fs::path& dir, const fs::path& root) {
    if (fs::exists(dir / "sqitch.plan")) return "sqitch";
    bool diesel = diesel_hints(dir, root);
    std::vector<fs::directory_entry> entries;
    for (auto& e : fs::directory_iterator(dir)) entries.push_back(e);
    std::sort(entries.begin(), entries.end(),
              [](auto& a, auto& b) { return a.path().filename() < b.path().filename(); });
    std::map<std::string, std::string> first;  // format → first file that voted for it
    for (auto& e : entries) {
        auto f = vote(e, diesel);
        if (!f.empty() && !first.count(f)) first[f] = rel_label(e.path(), root);
    }
    // moonshift's own layout also reads golang-migrate's .up.sql/.down.sql.
    if (first.count("native") && first.count("golang-migrate")) first.erase("golang-migrate");
    if (first.size() > 1) {
        auto a = first.begin(), b = std::next(first.begin());
        auto describe = [](const std::string& f) {
            return f == "native" ? std::string("moonshift's own") : f;
        };
        throw usage_error(
            "two migration formats are mixed in " + rel_label(dir, root) + ": " + a->second +
                " is " + describe(a->first) + ", " + b->second + " is " + describe(b->first),
            "keep one format per directory; `moonshift convert --to native OUTDIR` rewrites a "
            "directory into moonshift's layout");
    }
    if (first.empty() || first.begin()->first == "native")
        return ends_with_supabase(dir) ? "supabase" : "native";
    return first.begin()->first;
}

}  // namespace

std::string describe_place(const fs::path& dir, const fs::path& root) {
    auto place = default_place(dir.lexically_normal(), root).value_or(dir);
    bool plan = fs::exists(place / "sqitch.plan");
    if (place.lexically_normal() == root.lexically_normal() ||
        place.lexically_normal() == (root / "").lexically_normal())
        return plan ? "sqitch.plan" : ".";
    auto label = rel_label(place, root);
    return plan ? label + "/sqitch.plan" : label;
}

std::string detect_format(const fs::path& dir, const fs::path& root) {
    auto place = default_place(dir.lexically_normal(), root);
    if (!place) return "native";
    return decide(*place, root);
}

std::optional<catalog> discover_foreign(const fs::path& dir, const fs::path& root) {
    auto place = default_place(dir.lexically_normal(), root);
    if (!place) return std::nullopt;  // the native reader says the directory is missing
    auto format = decide(*place, root);
    if (format == "native") return std::nullopt;
    catalog cat;
    if (format == "sqitch")
        cat = read_sqitch(*place, root);
    else if (format == "diesel")
        cat = read_diesel(*place, root);
    else
        cat = read_flat(format, *place, root);
    cat.format = format;
    if (format == "supabase" && fs::exists(place->parent_path() / "seed.sql"))
        cat.notes.push_back(
            rel_label(place->parent_path() / "seed.sql", root) +
            " is seed data, not a migration: moonshift does not apply it with `up`");
    return cat;
}

}  // namespace moonshift::catalog
