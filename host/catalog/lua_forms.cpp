// The Lua forms of a migration: a `.lua` file returning a table, and a
// folder with up/down/verify/precheck parts in SQL or Lua.
#include <filesystem>

#include "catalog/catalog.hpp"
#include "common/error.hpp"
#include "common/text.hpp"

namespace moonshift::catalog {
namespace fs = std::filesystem;

std::string read_checked(const fs::path& p, const std::string& label);  // catalog.cpp

namespace {

std::string label_of(const fs::path& p, const fs::path& root) {
    auto rel = p.lexically_relative(root);
    return rel.empty() || rel.native()[0] == '.' ? p.string() : rel.string();
}

// Checksum over every file of the migration: name and content hash of each,
// in a fixed order, so adding, removing or editing any part shows as drift.
void add_part(std::string& manifest, const std::string& name, const std::string& content) {
    manifest += name + " " + text::sha256_hex(content) + "\n";
}

}  // namespace

void load_lua_form(migration& m, const fs::path& root) {
    if (m.kind == form::lua) {
        m.up_label = label_of(m.up, root);
        m.lua_source = read_checked(m.up, m.up_label);
        if (!has_sql(m.lua_source))  // only comments and blanks
            throw usage_error(m.up_label + ": the migration is empty",
                              "return a table: return { up = function(db, ctx) ... end }");
        m.checksum = text::sha256_hex(m.lua_source);
        return;
    }
    // A folder: exactly one up part; at most one of each other part.
    const std::string folder = label_of(m.up, root);
    std::string manifest;
    auto part = [&](const char* stem, bool sql_allowed, bool lua_allowed, std::string* sql,
                    std::string* lua, std::string* label) -> bool {
        fs::path s = m.up / (std::string(stem) + ".sql"), l = m.up / (std::string(stem) + ".lua");
        bool has_s = fs::exists(s), has_l = fs::exists(l);
        if (has_s && !sql_allowed)
            throw usage_error(label_of(s, root) + ": " + stem + " must be Lua",
                              std::string("write ") + stem + ".lua");
        if (has_l && !lua_allowed)
            throw usage_error(label_of(l, root) + ": " + stem + " must be SQL",
                              std::string("write ") + stem + ".sql");
        if (has_s && has_l)
            throw usage_error(folder + ": both " + stem + ".sql and " + stem + ".lua",
                              "keep one of them");
        if (!has_s && !has_l) return false;
        fs::path p = has_s ? s : l;
        std::string lab = label_of(p, root);
        std::string content = read_checked(p, lab);
        if (!has_sql(content))
            throw usage_error(lab + ": the file is empty", "write it, or delete it");
        (has_s ? *sql : *lua) = content;
        *label = lab;
        add_part(manifest, p.filename().string(), content);
        return true;
    };
    std::string unused_label;
    if (!part("up", true, true, &m.up_sql, &m.up_lua, &m.up_label))
        throw usage_error(folder + ": a migration folder needs up.sql or up.lua",
                          "add one of them");
    std::string down_label;
    if (part("down", true, true, &m.down_sql, &m.down_lua, &down_label)) {
        m.down = m.up / fs::path(down_label).filename();
        m.down_label = down_label;
        m.down_has_sql = true;
    }
    part("verify", true, true, &m.verify_sql, &m.verify_lua, &m.verify_label);
    std::string none;
    part("precheck", false, true, &none, &m.precheck_lua, &m.precheck_label);
    part("backfill", false, true, &none, &m.backfill_lua, &m.backfill_label);
    if (!m.up_sql.empty()) m.dir = read_directives(m.up_sql, m.up_label);
    for (auto& e : fs::directory_iterator(m.up)) {
        auto name = e.path().filename().string();
        if (name.empty() || name[0] == '.') continue;
        static const char* known[] = {"up.sql",       "up.lua",       "down.sql",
                                      "down.lua",     "verify.sql",   "verify.lua",
                                      "precheck.lua", "backfill.lua", "README.md"};
        bool ok = false;
        for (auto* k : known) ok = ok || name == k;
        if (!ok)
            throw usage_error(label_of(e.path(), root) + ": not a part of a migration folder",
                              "a folder holds up.sql|up.lua and optionally down.*, verify.*, "
                              "precheck.lua, backfill.lua");
    }
    m.checksum = text::sha256_hex(manifest);
}

}  // namespace moonshift::catalog
