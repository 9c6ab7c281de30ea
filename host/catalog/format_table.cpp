// The format descriptor table (format_table.hpp): one entry per layout.
#include "catalog/format_table.hpp"

#include <stdexcept>

#include "catalog/formats.hpp"
#include "common/text.hpp"

namespace moonshift::catalog {

namespace {

constexpr const char* own_marker = "-- moonshift:no-transaction";

format named(std::string name) {
    format f;
    f.name = std::move(name);
    f.described = f.name;
    return f;
}

format supabase() {
    auto f = named("supabase");
    f.home = "supabase/migrations";
    f.home_decides = true;
    f.own_reads_it = true;
    f.seed_file = "seed.sql";
    f.reads_rollbacks = true;
    f.platform_schemas = {"auth",
                          "storage",
                          "realtime",
                          "_realtime",
                          "graphql",
                          "graphql_public",
                          "extensions",
                          "supabase_functions",
                          "supabase_migrations",
                          "vault",
                          "pgsodium",
                          "pgsodium_masks",
                          "net",
                          "pgbouncer",
                          "cron",
                          "_analytics",
                          "pgtle",
                          "supabase_realtime"};
    f.platform_extensions = {"pg_graphql", "pg_stat_statements", "pgcrypto", "pgjwt",
                             "uuid-ossp",  "supabase_vault",     "pgsodium", "pg_net",
                             "pg_cron"};
    f.read = read_flat;
    f.files = pattern(R"(^(\d+)_(.+?)(\.down)?\.sql$)");
    f.parts = name_parts::with_suffix;
    f.example = "20250108120000_create_users.sql";
    f.no_tx_marker = own_marker;
    f.history = {"supabase_migrations.schema_migrations", "version::text", "",
                 history_rows::versions, recorded_checksum::none};
    return f;
}

format golang_migrate() {
    auto f = named("golang-migrate");
    f.files = pattern(R"(^(\d+)_(.+)\.(up|down)\.sql$)");
    f.votes = true;
    f.own_reads_it = true;
    f.read = read_flat;
    f.parts = name_parts::with_suffix;
    f.example = "1_create_users.up.sql";
    f.empty_down_is_no_op = true;
    f.no_tx = no_tx_policy::run_outside;
    f.history = {"schema_migrations", "version::text, dirty", "LIMIT 1", history_rows::high_water,
                 recorded_checksum::none};
    return f;
}

format dbmate() {
    auto f = named("dbmate");
    f.content = has_dbmate_up;
    f.home = "db/migrations";
    f.read = read_flat;
    f.files = pattern(R"(^(\d+)_?(.*)\.sql$)");
    f.parts = name_parts::both_in_one;
    f.example = "20250108120000_create_users.sql";
    f.empty_down_is_no_op = true;
    f.markers = dbmate_sections;
    f.blanks_markers = true;
    f.no_tx_marker = "-- migrate:up transaction:false";
    f.history = {"schema_migrations", "version::text", "", history_rows::versions,
                 recorded_checksum::none};
    return f;
}

format flyway() {
    auto f = named("flyway");
    f.files = pattern(R"(^([VUB])(\d+(?:[._]\d+)*)__(.+)\.sql$)");
    f.votes = true;
    f.read = read_flat;
    f.parts = name_parts::flyway;
    f.example = "V1.2__create_users.sql";
    f.repeatables = true;
    f.markers = flyway_conf;
    f.no_tx = no_tx_policy::run_outside;
    f.history = {"flyway_schema_history", "version, type, script, checksum, success",
                 "ORDER BY installed_rank", history_rows::flyway, recorded_checksum::flyway_crc32};
    return f;
}

format sqitch() {
    auto f = named("sqitch");
    f.marker_file = "sqitch.plan";
    f.read = read_sqitch;
    f.blanks_markers = true;
    f.no_tx = no_tx_policy::run_outside;
    f.history = {"sqitch.changes", "change, script_hash",
                 "WHERE project = $1 ORDER BY committed_at", history_rows::sqitch,
                 recorded_checksum::sha1};
    return f;
}

format diesel() {
    auto f = named("diesel");
    f.claims_folders = diesel_claims_folders;
    f.read = read_diesel;
    f.no_tx_marker = "run_in_transaction = false in metadata.toml";
    f.order = version_order::text;  // Diesel sorts and compares version strings as text
    f.history = {"__diesel_schema_migrations", "version::text", "", history_rows::versions,
                 recorded_checksum::none};
    return f;
}

format drizzle() {
    auto f = named("drizzle");
    f.described = "drizzle-kit's";
    f.marker_file = "meta/_journal.json";
    f.home = "drizzle";
    f.read = read_drizzle;
    f.reads_rollbacks = true;
    f.no_tx_marker = own_marker;  // drizzle's migrator runs every file in a transaction
    f.history = {"drizzle.__drizzle_migrations", "hash, created_at::text", "ORDER BY created_at",
                 history_rows::drizzle, recorded_checksum::sha256};
    return f;
}

format prisma() {
    auto f = named("prisma");
    f.described = "Prisma Migrate's";
    f.marker_file = "migration_lock.toml";
    f.home = "prisma/migrations";
    f.read = read_prisma;
    f.reads_rollbacks = true;
    f.no_tx_marker = own_marker;  // Prisma sends the file as one script: one implicit transaction
    f.history = {"_prisma_migrations",
                 "migration_name, checksum, finished_at IS NOT NULL, rolled_back_at IS NOT NULL",
                 "ORDER BY started_at", history_rows::prisma, recorded_checksum::sha256};
    return f;
}

format postgres_migrations() {
    auto f = named("postgres-migrations");
    f.files = pattern(R"(^(\d+)-(.+)\.sql$)");
    f.votes = true;
    f.read = read_flat;
    f.parts = name_parts::with_suffix;
    f.example = "0001-create-users.sql";
    f.markers = postgres_migrations_comments;
    f.no_tx_marker = "-- postgres-migrations disable-transaction";
    f.history = {"migrations", "id::text, name", "", history_rows::named_versions,
                 recorded_checksum::none};
    return f;
}

format up_down() {  // Authelia's layout
    auto f = named("up-down");
    f.files = pattern(R"(^V(\d+)\.([^.]+)\.(up|down)\.sql$)");
    f.votes = true;
    f.read = read_flat;
    f.parts = name_parts::with_suffix;
    f.example = "V0001.Create_Users.up.sql";
    f.empty_down_is_no_op = true;
    f.no_tx_marker = own_marker;
    return f;
}

format native() {
    auto f = named("native");
    f.described = "moonshift's own";
    f.own = true;
    f.files = pattern(R"(^\d+(\.\d+)*_.+\.sql$)");
    f.votes = true;
    f.folders = pattern(R"(^\d[\d\-]*_.+$)");  // dashes: Diesel's dated folders fit too
    f.lua_forms = true;
    f.repeatables = true;
    f.no_tx_marker = own_marker;
    return f;
}

}  // namespace

const std::vector<format>& formats() {
    static const std::vector<format> all = {
        supabase(), golang_migrate(),      dbmate(),  flyway(), sqitch(), drizzle(), prisma(),
        diesel(),   postgres_migrations(), up_down(), native()};
    return all;
}

const format* find_format(std::string_view name) {
    for (const auto& f : formats())
        if (f.name == name) return &f;
    return nullptr;
}

const format& format_named(std::string_view name) {
    if (auto* f = find_format(name)) return *f;
    throw std::logic_error("no migration format is called " + std::string(name));
}

const format& own_format() {
    for (const auto& f : formats())
        if (f.own) return f;
    throw std::logic_error("the format table has no own layout");
}

bool version_before(version_order o, const std::string& a, const std::string& b) {
    switch (o) {
        case version_order::numeric:
            return compare_versions(a, b) < 0;
        case version_order::text:
            return a < b;
    }
    return a < b;
}

std::string recorded_checksum_of(const format& f, const std::string& content) {
    switch (f.history.checksum) {
        case recorded_checksum::flyway_crc32:
            return std::to_string(flyway_checksum(content));
        case recorded_checksum::sha1:
            return sha1_hex(content);
        case recorded_checksum::sha256:
            return text::sha256_hex(content);
        case recorded_checksum::none:
            break;
    }
    return "";
}

}  // namespace moonshift::catalog
