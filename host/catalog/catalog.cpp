// Discovery of migrations in the project's migrations directory.
#include "catalog/catalog.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <regex>

#include "catalog/formats.hpp"
#include "common/error.hpp"
#include "common/text.hpp"

namespace moonshift::catalog {
namespace fs = std::filesystem;

const char* form_name(form f) {
    switch (f) {
        case form::sql:
            return "sql";
        case form::lua:
            return "lua";
        case form::folder:
            return "folder";
    }
    return "?";
}

namespace {

std::string strip_zeros(const std::string& part) {
    auto nz = part.find_first_not_of('0');
    return nz == std::string::npos ? "0" : part.substr(nz);
}

int compare_numbers(const std::string& a, const std::string& b) {  // both without leading zeros
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
    return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
}

}  // namespace

std::string version_key(const std::string& v) {
    if (v.find('.') == std::string::npos) return strip_zeros(v);
    // Flyway's dotted versions: each part is a number, and trailing zero
    // parts do not count ("1.0" is "1").
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (;;) {
        auto dot = v.find('.', start);
        parts.push_back(strip_zeros(
            v.substr(start, dot == std::string::npos ? std::string::npos : dot - start)));
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    while (parts.size() > 1 && parts.back() == "0") parts.pop_back();
    std::string out;
    for (auto& p : parts) out += (out.empty() ? "" : ".") + p;
    return out;
}

int compare_versions(const std::string& a, const std::string& b) {
    auto ka = version_key(a), kb = version_key(b);
    std::size_t ia = 0, ib = 0;
    for (;;) {
        auto da = ka.find('.', ia), db = kb.find('.', ib);
        int c =
            compare_numbers(ka.substr(ia, da == std::string::npos ? std::string::npos : da - ia),
                            kb.substr(ib, db == std::string::npos ? std::string::npos : db - ib));
        if (c != 0) return c;
        if (da == std::string::npos || db == std::string::npos) {
            if (da == db) return 0;
            return da == std::string::npos ? -1 : 1;  // "1.2" < "1.2.1"
        }
        ia = da + 1;
        ib = db + 1;
    }
}

int catalog::compare(const std::string& a, const std::string& b) const {
    const moonshift::catalog::format* f = find_format(format);
    const auto order = f ? f->order : version_order::numeric;
    if (version_key(a) == version_key(b)) return 0;  // one version, as find() matches it
    return version_before(order, a, b) ? -1 : version_before(order, b, a) ? 1 : 0;
}

const migration* catalog::find(const std::string& version) const {
    auto key = version_key(version);
    for (const auto& m : migrations)
        if (version_key(m.version) == key) return &m;
    return nullptr;
}

bool has_sql(const std::string& sql) {
    std::size_t i = 0;
    while (i < sql.size()) {
        char c = sql[i];
        if (std::isspace(static_cast<unsigned char>(c))) {
            ++i;
            continue;
        }
        if (sql.compare(i, 2, "--") == 0) {
            auto nl = sql.find('\n', i);
            if (nl == std::string::npos) return false;
            i = nl + 1;
            continue;
        }
        if (sql.compare(i, 2, "/*") == 0) {
            auto end = sql.find("*/", i + 2);
            if (end == std::string::npos) return true;  // let the parser report it
            i = end + 2;
            continue;
        }
        return true;
    }
    return false;
}

namespace {

// "a, b c" -> {"a", "b", "c"}: the items of a directive.
std::vector<std::string> list_items(const std::string& arg) {
    std::vector<std::string> out;
    std::string item;
    for (char c : arg + ",") {
        if (c == ',' || c == ' ' || c == '\t') {
            if (!item.empty()) out.push_back(item);
            item.clear();
        } else {
            item.push_back(c);
        }
    }
    return out;
}

}  // namespace

directives read_directives(const std::string& sql, const std::string& label) {
    directives d;
    int line_no = 0;
    std::size_t pos = 0;
    while (pos <= sql.size()) {
        auto nl = sql.find('\n', pos);
        std::string line =
            text::trim(sql.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
        ++line_no;
        pos = nl == std::string::npos ? sql.size() + 1 : nl + 1;
        if (line.empty()) continue;
        if (line.rfind("--", 0) != 0) break;  // directives live in the leading comments only
        std::string body = text::trim(line.substr(2));
        if (body.rfind("moonshift:", 0) != 0) continue;
        std::string rest = body.substr(10);
        std::string word = rest.substr(0, rest.find_first_of(" \t"));
        std::string arg = text::trim(rest.substr(word.size()));
        auto where = label + ":" + std::to_string(line_no);
        if (word == "no-transaction") {
            d.no_transaction = true;
        } else if (word == "requires") {
            if (arg.empty())
                throw usage_error(where + ": moonshift:requires needs a version",
                                  "write -- moonshift:requires 002");
            for (auto& item : list_items(arg)) {
                if (!std::all_of(item.begin(), item.end(), ::isdigit))
                    throw usage_error(where + ": \"" + item + "\" is not a version",
                                      "versions are digits, like 002 or 20250108120000");
                d.requires_versions.push_back(item);
            }
        } else if (word == "allow") {
            // -- moonshift:allow RULE reason: a lint suppression for the
            // statement that follows; read by the linter (safety/lint.cpp).
        } else if (word == "tags") {
            for (auto& t : list_items(arg)) d.tags.push_back(t);
        } else if (word == "changes") {
            if (arg.empty())
                throw usage_error(where + ": moonshift:changes needs table names",
                                  "write -- moonshift:changes audit, public.orders");
            for (auto& t : list_items(arg)) d.changes.push_back(t);
        } else if (word == "converted-from") {
            d.converted_from = arg;  // written by `moonshift convert` (formats_convert.cpp)
        } else {
            throw usage_error(
                where + ": unknown directive moonshift:" + word,
                "known directives: moonshift:no-transaction, moonshift:requires VERSION, "
                "moonshift:tags A,B, moonshift:changes TABLE,..., moonshift:allow RULE reason");
        }
    }
    return d;
}

namespace {

struct parsed_name {
    std::string version, name;
    enum { up, down, lua, folder, verify } role;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
}

// VERSION_NAME: VERSION is digits (dotted when `dotted`), NAME is
// [A-Za-z0-9_-]+. By hand: std::regex ran for every file of every listing.
bool split_stem(std::string_view stem, bool dotted, parsed_name& out) {
    std::size_t i = 0;
    for (;;) {
        std::size_t run = i;
        while (i < stem.size() && is_digit(stem[i])) ++i;
        if (i == run) return false;
        if (dotted && i < stem.size() && stem[i] == '.') {
            ++i;
            continue;
        }
        break;
    }
    if (i >= stem.size() || stem[i] != '_' || i + 1 >= stem.size()) return false;
    for (std::size_t k = i + 1; k < stem.size(); ++k)
        if (!is_name_char(stem[k])) return false;
    out.version.assign(stem.substr(0, i));
    out.name.assign(stem.substr(i + 1));
    return true;
}

bool ends_with(std::string_view s, std::string_view tail) {
    return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

bool parse_name(const std::string& file, bool is_dir, parsed_name& out) {
    std::string_view f(file);
    if (is_dir) {
        out.role = parsed_name::folder;
        return split_stem(f, false, out);
    }
    if (ends_with(f, ".sql")) {
        auto stem = f.substr(0, f.size() - 4);
        static const std::pair<std::string_view, decltype(parsed_name::up)> suffixes[] = {
            {".up", parsed_name::up},
            {".down", parsed_name::down},
            {".verify", parsed_name::verify}};
        for (const auto& [suffix, role] : suffixes)
            if (ends_with(stem, suffix) &&
                split_stem(stem.substr(0, stem.size() - suffix.size()), true, out)) {
                out.role = role;
                return true;
            }
        out.role = parsed_name::up;
        return split_stem(stem, true, out);
    }
    if (ends_with(f, ".lua")) {
        out.role = parsed_name::lua;
        return split_stem(f.substr(0, f.size() - 4), false, out);
    }
    return false;
}

}  // namespace

std::string rel_label(const fs::path& p, const fs::path& root) {
    auto rel = p.lexically_relative(root);
    return rel.empty() || rel.native()[0] == '.' ? p.string() : rel.string();
}

namespace {

// What reading moonshift's own layout has gathered so far.
struct native_reading {
    struct pending_down {
        std::string key, name;
        fs::path path;
        std::string label;
        bool verify = false;
    };
    catalog cat;
    std::map<std::string, migration> by_key;         // version_key → migration
    std::map<std::string, std::string> first_label;  // version_key → file that claimed it
    std::vector<pending_down> downs;
};

// One up migration: an SQL file, a .lua file or a folder.
migration read_native_up(const parsed_name& pn, const fs::directory_entry& e,
                         const std::string& label, const fs::path& root) {
    migration m;
    m.version = pn.version;
    m.name = pn.name;
    m.up = e.path();
    m.up_label = label;
    if (pn.role == parsed_name::up) {
        m.kind = form::sql;
        m.up_sql = read_checked(e.path(), label);
        if (!has_sql(m.up_sql))
            throw usage_error(label + ": the migration is empty",
                              "write its SQL, or delete the file");
        m.dir = read_directives(m.up_sql, label);
    } else {
        m.kind = pn.role == parsed_name::lua ? form::lua : form::folder;
        load_lua_form(m, root);
    }
    return m;
}

void read_native_entry(native_reading& r, const fs::directory_entry& e, const fs::path& root) {
    std::string file = e.path().filename().string();
    if (file.empty() || file[0] == '.') return;
    bool is_dir = e.is_directory();
    std::string ext = e.path().extension().string();
    if (!is_dir && ext != ".sql" && ext != ".lua") return;  // README.md and friends
    std::string label = rel_label(e.path(), root);
    if (!is_dir && file.rfind(repeatable_prefix, 0) == 0 && ext == ".sql") {  // as in Flyway
        r.cat.repeatables.push_back(read_repeatable(e.path(), label));
        return;
    }
    parsed_name pn;
    if (!parse_name(file, is_dir, pn))
        throw usage_error(label + ": the name does not start with a version",
                          "name migrations VERSION_name.sql, e.g. 001_create_users.sql or "
                          "20250108120000_create_users.sql");
    std::string key = version_key(pn.version);
    if (pn.role == parsed_name::down || pn.role == parsed_name::verify) {
        r.downs.push_back({key, pn.name, e.path(), label, pn.role == parsed_name::verify});
        return;
    }
    if (auto it = r.first_label.find(key); it != r.first_label.end())
        throw usage_error(
            label + ": version " + pn.version + " is also used by " + it->second,
            "give one of them a new version (moonshift new NAME picks the next free one)");
    r.first_label[key] = label;
    r.by_key[key] = read_native_up(pn, e, label, root);
}

void attach_native_downs(native_reading& r) {
    for (auto& d : r.downs) {
        auto it = r.by_key.find(d.key);
        if (it == r.by_key.end() || it->second.name != d.name)
            throw usage_error(d.label + ": a down script with no matching up migration",
                              "name it after its migration, e.g. 001_create_users.down.sql beside "
                              "001_create_users.sql");
        if (it->second.kind != form::sql)
            throw usage_error(d.label + ": a .down.sql beside a " +
                                  std::string(form_name(it->second.kind)) + " migration",
                              "put the down step inside the migration instead");
        if (d.verify) {  // NNN_name.verify.sql: runs after up, in its transaction (formats.hpp)
            it->second.verify_label = d.label;
            it->second.verify_sql = read_checked(d.path, d.label);
            continue;
        }
        it->second.down = d.path;
        it->second.down_label = d.label;
        it->second.down_sql = read_checked(d.path, d.label);
        it->second.down_has_sql = has_sql(it->second.down_sql);
    }
}

// rollbacks/NNN_rollback_name.sql: the down of version NNN, unless it has a
// .down.sql already (two downs for one migration is an error naming both).
// `reclassify`: the format whose reader classified the migrations already
// (a foreign one), so the down just attached is classified too.
// `find`: the migration of a version_key, or nullptr.
void attach_rollbacks(const std::function<migration*(const std::string&)>& find,
                      const fs::path& dir, const fs::path& root, const format* reclassify) {
    if (dir.empty() || !fs::is_directory(dir)) return;
    static const std::regex re(R"(^(\d+(?:\.\d+)*)_rollback_[A-Za-z0-9_\-]+\.sql$)");
    for (auto& e : sorted_entries(dir)) {
        auto file = e.path().filename().string();
        std::smatch m;
        if (e.is_directory() || !std::regex_match(file, m, re)) continue;
        auto label = rel_label(e.path(), root);
        auto* it = find(version_key(m[1]));
        if (!it)
            throw usage_error(label + ": a rollback with no migration of version " + m[1].str() +
                                  " in the migrations folder",
                              "name it after its migration's version, e.g. "
                              "003_rollback_add_slug.sql for 003_add_slug.sql");
        if (it->kind != form::sql)
            throw usage_error(
                label + ": a rollback for a " + std::string(form_name(it->kind)) + " migration",
                "put the down step inside the migration instead");
        if (!it->down.empty())
            throw usage_error(
                label + ": " + it->up_label + " has a down script already, " + it->down_label,
                "keep one of the two");
        it->down = e.path();
        it->down_label = label;
        it->down_sql = read_checked(e.path(), label);
        it->down_has_sql = has_sql(it->down_sql);
        if (reclassify) classify_transactions(*it, *reclassify);
    }
}

void check_requires(const catalog& cat, const fs::path& dir, const fs::path& root) {
    for (auto& m : cat.migrations) {
        for (auto& r : m.dir.requires_versions) {
            const migration* dep = cat.find(r);
            if (!dep)
                throw usage_error(
                    m.up_label + ": requires " + r + ", which is not in " + rel_label(dir, root),
                    "fix the version in the moonshift:requires directive");
            if (compare_versions(dep->version, m.version) >= 0)
                throw usage_error(m.up_label + ": requires " + r + ", which comes after it",
                                  "a migration can only require earlier versions");
        }
    }
}

}  // namespace

catalog discover(const fs::path& dir, const fs::path& root, const fs::path& rollbacks) {
    listing_scope listed_once;
    // Other tools' layouts (formats.cpp), read as they are; native below.
    if (auto foreign = discover_foreign(dir, root)) {
        const auto& f = format_named(foreign->format);
        auto find = [&foreign](const std::string& key) -> migration* {
            for (auto& m : foreign->migrations)
                if (version_key(m.version) == key) return &m;
            return nullptr;
        };
        // The default rollbacks folder is beside the migrations as found: supabase/rollbacks
        // when the configured folder does not exist and supabase/migrations was taken.
        auto beside = rollbacks;
        if (!fs::is_directory(dir) &&
            rollbacks == dir.lexically_normal().parent_path() / "rollbacks")
            beside =
                (root / describe_place(dir, root)).lexically_normal().parent_path() / "rollbacks";
        if (f.reads_rollbacks) attach_rollbacks(find, beside, root, &f);
        return std::move(*foreign);
    }
    if (!fs::is_directory(dir))
        throw usage_error(
            "migrations directory " + rel_label(dir, root) + " does not exist",
            "create it, run `moonshift init`, or set [project] migrations in moonshift.toml");
    const auto& own = own_format();
    native_reading r;
    r.cat.format = own.name;
    for (auto& e : sorted_entries(dir)) read_native_entry(r, e, root);
    attach_native_downs(r);
    attach_rollbacks(
        [&r](const std::string& key) -> migration* {
            auto it = r.by_key.find(key);
            return it == r.by_key.end() ? nullptr : &it->second;
        },
        rollbacks, root, nullptr);
    r.cat.migrations.reserve(r.by_key.size());
    for (auto& [key, m] : r.by_key) {
        if (m.kind == form::sql) set_checksums(m);
        r.cat.migrations.push_back(std::move(m));
    }
    std::sort(r.cat.migrations.begin(), r.cat.migrations.end(),
              [&own](const migration& a, const migration& b) {
                  return version_before(own.order, a.version, b.version);
              });
    finish_native(r.cat);  // transaction needs found by the parser, converted checksums
    check_requires(r.cat, dir, root);
    return std::move(r.cat);
}

}  // namespace moonshift::catalog
