// Writing other tools' history tables (foreign_history.hpp). Which table is
// each tool's is the format table's (catalog/format_table.hpp), the same
// one `import --from` reads.
#include "engine/foreign_history.hpp"

#include "catalog/formats.hpp"
#include "common/error.hpp"
#include "common/text.hpp"
#include "db/quote.hpp"
#include "sql/sql.hpp"

namespace moonshift::engine::foreign {
namespace {

using db::quote::literal;

const std::string& table_of(const std::string& tool) {
    return catalog::format_named(tool).history.table;
}

// The tool's own hash of the file: sha256 of its bytes as they are on disk.
std::string file_hash(const catalog::migration& m) {
    return text::sha256_hex(text::read_file(m.up));
}

// What the Supabase CLI records in `statements`: the file's statements, each
// without its semicolon.
std::string statements_of(const catalog::migration& m) {
    std::vector<std::string> out;
    try {
        for (auto& st : sql::split(m.up_sql)) out.push_back(st.text);
    } catch (const error&) {
        out = {m.up_sql};  // the server ran it whole; so is it recorded
    }
    return literal(db::quote::array(out)) + "::text[]";
}

// Prisma's migration_name: the folder's name.
std::string prisma_name(const catalog::migration& m) {
    return m.up.parent_path().filename().string();
}

}  // namespace

void check_keepable(const std::string& tool, const catalog::catalog& cat) {
    // The Supabase CLI reads <version>_<name>.sql files: its own layout's,
    // drizzle-kit's written into supabase/migrations, or moonshift's.
    bool ok =
        tool == cat.format ||
        (tool == "supabase" && (cat.format == "drizzle" || catalog::format_named(cat.format).own));
    if (!ok)
        throw usage_error("keep_history = \"" + tool + "\", but the migrations are " +
                              catalog::format_named(cat.format).described + " layout: " + tool +
                              " could not tell these files apart",
                          "point [project] migrations at the " + tool + " folder, or remove " +
                              tool + " from keep_history");
}

void ensure_table(db::session& s, const std::string& tool) {
    const auto& table = table_of(tool);
    bool exists = s.query("SELECT to_regclass($1) IS NOT NULL", table)[0][0].as<bool>();
    if (tool == "drizzle" && !exists)
        s.exec_script(
            "CREATE SCHEMA IF NOT EXISTS drizzle;"
            "CREATE TABLE IF NOT EXISTS drizzle.__drizzle_migrations ("
            "id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)");
    if (tool == "prisma" && !exists)
        s.exec_script(
            "CREATE TABLE IF NOT EXISTS _prisma_migrations ("
            "id VARCHAR(36) PRIMARY KEY NOT NULL, checksum VARCHAR(64) NOT NULL, "
            "finished_at TIMESTAMPTZ, migration_name VARCHAR(255) NOT NULL, logs TEXT, "
            "rolled_back_at TIMESTAMPTZ, started_at TIMESTAMPTZ NOT NULL DEFAULT now(), "
            "applied_steps_count INTEGER NOT NULL DEFAULT 0)");
    if (tool != "supabase") return;
    // The CLI adds statements and name to a table an older version created.
    bool complete = exists && s.query(
                                   "SELECT count(*) = 2 FROM pg_attribute WHERE attrelid = "
                                   "to_regclass($1) AND attname IN ('statements', 'name') AND NOT "
                                   "attisdropped",
                                   table)[0][0]
                                  .as<bool>();
    if (!complete)
        s.exec_script(
            "CREATE SCHEMA IF NOT EXISTS supabase_migrations;"
            "CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations ("
            "version text NOT NULL PRIMARY KEY);"
            "ALTER TABLE supabase_migrations.schema_migrations "
            "ADD COLUMN IF NOT EXISTS statements text[];"
            "ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS name text");
}

std::string applied_sql(const std::string& tool, const catalog::migration& m) {
    if (tool == "drizzle") {
        auto when = std::to_string(m.tool_when);
        return "DELETE FROM drizzle.__drizzle_migrations WHERE created_at = " + when +
               ";INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES (" +
               literal(file_hash(m)) + ", " + when + ")";
    }
    if (tool == "prisma")
        return "INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, logs, "
               "rolled_back_at, started_at, applied_steps_count) VALUES "
               "(md5(random()::text || clock_timestamp()::text)::uuid::text, " +
               literal(file_hash(m)) + ", clock_timestamp(), " + literal(prisma_name(m)) +
               ", NULL, NULL, now(), 1)";
    return "DELETE FROM supabase_migrations.schema_migrations WHERE version = " +
           literal(m.version) +
           ";INSERT INTO supabase_migrations.schema_migrations (version, name, statements) "
           "VALUES (" +
           literal(m.version) + ", " + literal(m.name) + ", " + statements_of(m) + ")";
}

std::string reverted_sql(const std::string& tool, const catalog::migration& m) {
    if (tool == "drizzle")
        return "DELETE FROM drizzle.__drizzle_migrations WHERE created_at = " +
               std::to_string(m.tool_when);
    if (tool == "prisma")
        return "UPDATE _prisma_migrations SET rolled_back_at = clock_timestamp() WHERE "
               "migration_name = " +
               literal(prisma_name(m)) + " AND rolled_back_at IS NULL";
    return "DELETE FROM supabase_migrations.schema_migrations WHERE version = " +
           literal(m.version);
}

}  // namespace moonshift::engine::foreign
