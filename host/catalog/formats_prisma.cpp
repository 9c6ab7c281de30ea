// Prisma Migrate's folder as `prisma migrate dev` writes it:
// prisma/migrations/<timestamp>_<name>/migration.sql, migration_lock.toml
// beside them, and the optional down.sql Prisma's docs put in the folder
// (applied by hand with `prisma db execute`; moonshift's `down` runs it).
#include <toml++/toml.h>

#include <cctype>

#include "catalog/formats.hpp"
#include "common/error.hpp"
#include "common/text.hpp"

namespace moonshift::catalog {
namespace fs = std::filesystem;

namespace {

void check_lock(const fs::path& lock, const fs::path& root) {
    auto label = rel_label(lock, root);
    try {
        auto doc = toml::parse_file(lock.string());
        auto provider = doc["provider"].value<std::string>();
        if (provider && *provider != "postgresql" && *provider != "postgres")
            throw usage_error(label + ": the migrations are for " + *provider + ", not PostgreSQL",
                              "point [project] migrations at a PostgreSQL project's migrations");
    } catch (const toml::parse_error& e) {
        throw usage_error(label + ":" + std::to_string(e.source().begin.line) + ": " +
                              std::string(e.description()),
                          "prisma writes it: restore it from version control");
    }
}

// "20240108120000_create_users" → version and name.
bool split_folder(const std::string& folder, std::string& version, std::string& name) {
    std::size_t digits = 0;
    while (digits < folder.size() && std::isdigit(static_cast<unsigned char>(folder[digits])))
        ++digits;
    if (digits == 0 || digits + 1 >= folder.size() || folder[digits] != '_') return false;
    version = folder.substr(0, digits);
    name = folder.substr(digits + 1);
    return true;
}

migration read_folder(const format& f, const fs::path& folder, const fs::path& root) {
    migration m;
    auto label = rel_label(folder, root);
    if (!split_folder(folder.filename().string(), m.version, m.name))
        throw usage_error(label + ": the folder name does not start with a version",
                          "name it like 20250108120000_create_users (prisma migrate dev "
                          "--create-only)");
    m.kind = form::sql;
    m.up = folder / "migration.sql";
    m.up_label = rel_label(m.up, root);
    if (!fs::is_regular_file(m.up))
        throw usage_error(label + ": a Prisma migration folder without migration.sql",
                          "add migration.sql, or remove the folder");
    m.up_sql = read_checked(m.up, m.up_label);
    m.dir = read_directives(m.up_sql, m.up_label);
    if (auto down = folder / "down.sql"; fs::is_regular_file(down)) {
        m.down = down;
        m.down_label = rel_label(down, root);
        m.down_sql = read_checked(down, m.down_label);
        m.down_has_sql = has_sql(m.down_sql);
    }
    set_checksums(m);
    classify_transactions(m, f);
    return m;
}

}  // namespace

catalog read_prisma(const format& f, const fs::path& dir, const fs::path& root) {
    catalog cat;
    cat.format = f.name;
    check_lock(dir / f.marker_file, root);
    for (auto& e : sorted_entries(dir)) {
        auto file = e.path().filename().string();
        if (file.empty() || file[0] == '.') continue;
        if (e.is_directory()) {
            cat.migrations.push_back(read_folder(f, e.path(), root));
        } else if (e.path().extension() == ".sql") {
            throw usage_error(rel_label(e.path(), root) +
                                  ": an .sql file beside the migration folders, which Prisma "
                                  "never runs",
                              "move it into a folder of its own as migration.sql "
                              "(20250108120000_name/migration.sql), or out of " +
                                  rel_label(dir, root));
        }
    }
    sort_and_check(cat, f.order);
    return cat;
}

}  // namespace moonshift::catalog
