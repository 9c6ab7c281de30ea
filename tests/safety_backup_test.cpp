// Targeted backups tied to migrations, against a real PostgreSQL: taken
// before destructive migrations (and only then), recorded against the
// version, restored row by row after a rollback, refused up front when the
// location cannot take them; list, create, restore, prune from the CLI.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <pqxx/pqxx>
#include <string>

#include "support/project.hpp"
#include "support/shop.hpp"
#include "support/skip.hpp"

using moonshift::test::last_json;
using moonshift::test::project;
using moonshift::test::rows_of;
using moonshift::test::shop;
using moonshift::test::write_file;

namespace {

bool has(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

// A test run twice: with backups in files, and in the database
// ([backup] store = "database"); the body sees `in_db` to look in the right
// place.
#define BOTH_STORES(name)                      \
    struct name : shop {                       \
        using shop::shop;                      \
        void body();                           \
    };                                         \
    BOOST_AUTO_TEST_CASE(name##_files) {       \
        name t(false);                         \
        t.body();                              \
    }                                          \
    BOOST_AUTO_TEST_CASE(name##_in_database) { \
        name t(true);                          \
        t.body();                              \
    }                                          \
    void name::body()

BOOST_AUTO_TEST_SUITE(safety_backup)

BOTH_STORES(a_destructive_migration_is_backed_up_and_restored_row_by_row) {
    auto users_before = rows_of(*this, "users");
    migration("002_trim_users.sql",
              "-- moonshift:allow drop-column the note column is unused\n"
              "ALTER TABLE users DROP COLUMN note;\n"
              "-- moonshift:allow require-where keep only early users\n"
              "DELETE FROM users WHERE id > 800 AND id NOT IN (SELECT user_id FROM orders);\n");
    migration("002_trim_users.down.sql", "ALTER TABLE users ADD COLUMN note text;\n");
    auto r = ms({"up"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(count("SELECT 1 FROM users") == 800);
    // The backup is recorded against the migration, with exactly the table it touched.
    BOOST_TEST(scalar("SELECT count(*) FROM moonshift.backups WHERE version = '002' AND status = "
                      "'complete'") == "1");
    BOOST_TEST(scalar("SELECT tables->0->>'table' FROM moonshift.backups WHERE version = '002'") ==
               "public.users");
    BOOST_TEST(
        scalar("SELECT jsonb_array_length(tables) FROM moonshift.backups WHERE version = '002'") ==
        "1");
    BOOST_TEST(scalar("SELECT rows FROM moonshift.backups WHERE version = '002'") == "1000");
    auto location = scalar("SELECT location FROM moonshift.backups WHERE version = '002'");
    if (in_db) {
        BOOST_TEST(location == "database:moonshift_backups");
        auto copy =
            scalar("SELECT tables->0->>'copy' FROM moonshift.backups WHERE version = '002'");
        BOOST_TEST(count("SELECT 1 FROM " + copy) == 1000);
    } else {
        BOOST_TEST(
            std::filesystem::exists(std::filesystem::path(location) / "public.users.copy.gz"));
        BOOST_TEST(std::filesystem::exists(std::filesystem::path(location) / "manifest.json"));
    }

    // Rolled back (the down script brings the column back, empty), then restored.
    auto down = ms({"down"});
    BOOST_REQUIRE_MESSAGE(down.exit_code == 0, down.err);
    auto id = scalar("SELECT id FROM moonshift.backups WHERE version = '002'");
    auto restore = ms({"--yes", "backup", "restore", id});
    BOOST_REQUIRE_MESSAGE(restore.exit_code == 0, restore.err + restore.out);
    BOOST_TEST(has(restore.out, "restored 1000 rows into public.users"), restore.out);
    auto users_after = rows_of(*this, "users");
    BOOST_REQUIRE(users_after.size() == users_before.size());
    for (std::size_t i = 0; i < users_before.size(); ++i)
        BOOST_TEST(users_after[i] == users_before[i]);
    BOOST_TEST(scalar("SELECT restored_at IS NOT NULL FROM moonshift.backups WHERE id = " + id) ==
               "t");
}

BOTH_STORES(down_without_a_down_script_offers_and_uses_the_backup) {
    auto users_before = rows_of(*this, "users");
    migration("002_drop_note.sql",
              "-- moonshift:allow drop-column unused\nALTER TABLE users DROP COLUMN note;\n"
              "-- moonshift:allow column-type-change small\nALTER TABLE users ALTER COLUMN score "
              "TYPE int;\n");
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    // Applied before moonshift recorded derived reverses: only the backup can stand in.
    scalar("UPDATE moonshift.migrations SET reverse = NULL WHERE version = '002'; SELECT 1");
    auto refused = ms({"down"});
    BOOST_TEST(refused.exit_code == 3);
    BOOST_TEST(has(refused.err, "no down script and it was applied before"), refused.err);
    BOOST_TEST(has(refused.err, "taken before it ran holds public.users"), refused.err);
    BOOST_TEST(has(refused.err, "--restore-backup"), refused.err);
    auto r = ms({"down", "--restore-backup"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err + r.out);
    BOOST_TEST((applied_versions() == std::vector<std::string>{"001"}));
    auto users_after = rows_of(*this, "users");
    BOOST_REQUIRE(users_after.size() == users_before.size());
    for (std::size_t i = 0; i < users_before.size(); ++i)
        BOOST_TEST(users_after[i] == users_before[i]);
    BOOST_TEST(scalar("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
                      "'users'::regclass "
                      "AND attname = 'score'") == "numeric(10,2)");
}

BOTH_STORES(a_dropped_table_comes_back_with_keys_indexes_and_its_sequence) {
    auto users_before = rows_of(*this, "users");
    migration("002_drop.sql",
              "-- moonshift:allow drop-table replaced by accounts\nDROP TABLE orders;\n"
              "-- moonshift:allow drop-table replaced by accounts\nDROP TABLE users;\n");
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    BOOST_TEST(!table_exists("users"));
    BOOST_TEST(
        scalar("SELECT jsonb_array_length(tables) FROM moonshift.backups WHERE version = '002'") ==
        "2");
    auto r = ms({"down", "--restore-backup"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err + r.out);
    BOOST_TEST(rows_of(*this, "users") == users_before);
    BOOST_TEST(count("SELECT 1 FROM orders") == 50);
    BOOST_TEST(scalar("SELECT count(*) FROM pg_indexes WHERE tablename = 'users'") ==
               "3");  // pkey, email, name
    BOOST_TEST(scalar("SELECT count(*) FROM pg_constraint WHERE conrelid = 'orders'::regclass AND "
                      "contype = 'f'") == "1");
    // The serial continues after the restored keys.
    BOOST_TEST(scalar("INSERT INTO users (name) VALUES ('new') RETURNING id") == "1001");
}

BOTH_STORES(only_destructive_migrations_are_backed_up) {
    migration("002_add.sql", "ALTER TABLE users ADD COLUMN IF NOT EXISTS plan text;\n");
    migration("003_update.sql", "UPDATE users SET plan = 'free' WHERE plan IS NULL;\n");
    migration("003_update.down.sql", "UPDATE users SET plan = NULL;\n");
    auto r = ms({"up"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    // Adding a column loses nothing; an UPDATE with a down script is undone by it.
    BOOST_TEST(scalar("SELECT count(*) FROM moonshift.backups") == "0");
    migration("004_update_no_down.sql", "UPDATE users SET plan = 'pro' WHERE id < 10;\n");
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    BOOST_TEST(scalar("SELECT reason FROM moonshift.backups WHERE version = '004'") ==
               "changes rows and has no down script");
}

BOOST_FIXTURE_TEST_CASE(policy_never_and_always, shop) {
    write_file(dir.path / "moonshift.toml",
               "[project]\nmigrations = \"migrations\"\n\n[env.test]\nurl = \"" + url +
                   "\"\nbackup = \"never\"\n");
    migration("002_drop.sql", "-- moonshift:allow truncate test\nTRUNCATE orders;\n");
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    BOOST_TEST(scalar("SELECT count(*) FROM moonshift.backups") == "0");
    write_file(dir.path / "moonshift.toml",
               "[project]\nmigrations = \"migrations\"\n\n[env.test]\nurl = \"" + url +
                   "\"\nbackup = \"always\"\n");
    migration("003_add.sql", "ALTER TABLE users ADD COLUMN IF NOT EXISTS plan text;\n");
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    BOOST_TEST(scalar("SELECT tables->0->>'table' FROM moonshift.backups WHERE version = '003'") ==
               "public.users");
}

BOOST_FIXTURE_TEST_CASE(an_unwritable_backup_location_stops_the_run_before_the_migration, shop) {
    // A path under a regular file can never be a directory, even for root.
    write_file(dir.path / "not-a-dir", "x");
    write_file(dir.path / "moonshift.toml",
               "[project]\nmigrations = \"migrations\"\n\n[env.test]\nurl = \"" + url +
                   "\"\n\n[backup]\ndir = \"not-a-dir/backups\"\n");
    migration("002_fine.sql", "CREATE TABLE IF NOT EXISTS notes (id int);\n");
    migration("003_drop.sql", "-- moonshift:allow drop-table test\nDROP TABLE orders;\n");
    auto before = fingerprint();
    auto r = ms({"up"});
    BOOST_TEST(r.exit_code == 2, r.err);
    BOOST_TEST(has(r.err, "backup location"), r.err);
    BOOST_TEST(has(r.err, "not-a-dir/backups"), r.err);
    BOOST_TEST(fingerprint() == before);  // not even 002
    BOOST_TEST(table_exists("orders"));
}

BOTH_STORES(backup_create_list_restore_into_and_prune) {
    auto c = ms({"--json", "backup", "create", "users", "orders", "--reason", "before the import"});
    BOOST_REQUIRE_MESSAGE(c.exit_code == 0, c.err);
    auto j = last_json(c.out);
    BOOST_TEST(j["backup"]["rows"] == 1050);
    auto id = std::to_string(j["backup"]["id"].get<long long>());
    auto l = ms({"backup", "list"});
    BOOST_TEST(l.exit_code == 0);
    BOOST_TEST(
        (has(l.out, "public.users, public.orders") || has(l.out, "public.orders, public.users")),
        l.out);
    // Restoring into another schema leaves the originals alone.
    scalar("DELETE FROM orders; SELECT 1");
    auto r = ms({"backup", "restore", id, "--into", "recovered"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(count("SELECT 1 FROM recovered.orders") == 50);
    BOOST_TEST(count("SELECT 1 FROM orders") == 0);
    // Restore over the originals needs a confirmation.
    auto refused = ms({"backup", "restore", id, "--table", "orders"});
    BOOST_TEST(refused.exit_code == 2);
    BOOST_TEST(has(refused.err, "--yes"), refused.err);
    auto back = ms({"--yes", "backup", "restore", id, "--table", "orders"});
    BOOST_REQUIRE_MESSAGE(back.exit_code == 0, back.err);
    BOOST_TEST(count("SELECT 1 FROM orders") == 50);
    // Retention: with one daily slot, of two backups today the newer stays.
    write_file(dir.path / "moonshift.toml",
               "[project]\nmigrations = \"migrations\"\n\n[env.test]\nurl = \"" + url + "\"\n" +
                   store_setting() +
                   "\n[backup]\nkeep_daily = 1\nkeep_weekly = 0\nkeep_monthly = 0\n");
    BOOST_REQUIRE(ms({"backup", "create", "orders"}).exit_code == 0);
    auto location = scalar("SELECT location FROM moonshift.backups WHERE id = " + id);
    auto p = ms({"backup", "prune"});
    BOOST_TEST(p.exit_code == 0, p.err);
    BOOST_TEST(scalar("SELECT status FROM moonshift.backups WHERE id = " + id) == "pruned");
    BOOST_TEST(scalar("SELECT count(*) FROM moonshift.backups WHERE status = 'complete'") == "1");
    if (in_db)
        BOOST_TEST(scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'moonshift_backups' "
                          "AND tablename LIKE 'b" +
                          id + "\\_%'") == "0");
    else
        BOOST_TEST(!std::filesystem::exists(location));
}

BOTH_STORES(a_damaged_backup_file_is_refused_and_nothing_changes) {
    auto c = ms({"--json", "backup", "create", "orders"});
    BOOST_REQUIRE(c.exit_code == 0);
    auto j = last_json(c.out);
    if (in_db)  // a copy edited by hand, its row count unchanged
        scalar("UPDATE " + j["backup"]["tables"][0]["copy"].get<std::string>() +
               " SET total = total + 1 WHERE id = 7; SELECT 1");
    else
        write_file(std::filesystem::path(j["backup"]["location"].get<std::string>()) /
                       "public.orders.copy.gz",
                   "this is not gzip");
    auto before = rows_of(*this, "orders");
    auto r = ms({"--yes", "backup", "restore", std::to_string(j["backup"]["id"].get<long long>())});
    BOOST_TEST(r.exit_code != 0);
    BOOST_TEST(rows_of(*this, "orders") == before);
}

BOOST_FIXTURE_TEST_CASE(policy_always_with_full_takes_a_pg_dump_when_pg_dump_is_there, shop) {
    write_file(dir.path / "moonshift.toml",
               "[project]\nmigrations = \"migrations\"\n\n[env.test]\nurl = \"" + url +
                   "\"\nbackup = \"always\"\n\n[backup]\nfull = true\n");
    migration("002_add.sql", "ALTER TABLE users ADD COLUMN IF NOT EXISTS plan text;\n");
    auto r = ms({"up"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(scalar("SELECT kind FROM moonshift.backups WHERE version = '002'") == "pg_dump");
    auto location = scalar("SELECT location FROM moonshift.backups WHERE version = '002'");
    BOOST_TEST(std::filesystem::file_size(std::filesystem::path(location) / "database.dump") > 0u);
    // A whole-database dump is restored with pg_restore, which restore names.
    auto id = scalar("SELECT id FROM moonshift.backups WHERE version = '002'");
    auto restore = ms({"--yes", "backup", "restore", id});
    BOOST_TEST(restore.exit_code == 2);
    BOOST_TEST(has(restore.err, "pg_restore"), restore.err);
}

// The README's promise: the backup is on disk before the change it guards can commit. Before a
// down script it is synced on a thread while the script runs in the same transaction, and the
// COMMIT (with the backup row's completion) is sent only once the sync is done. Under strace (-f:
// the syncing thread too; -y: the path of each descriptor), the fsync of the table's file and of
// its folder end before the COMMIT is sent to the server, and the DROP was sent in that
// transaction.
BOOST_FIXTURE_TEST_CASE(the_backup_is_synced_to_disk_before_the_drop_commits, shop,
                        *boost::unit_test::precondition(moonshift::test::skip_when{
                            moonshift::test::why_no_strace})) {
    migration("002_scratch.sql",
              "CREATE TABLE scratch (id int primary key);\n"
              "INSERT INTO scratch SELECT generate_series(1, 10);\n");
    migration("002_scratch.down.sql", "DROP TABLE scratch;\n");
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    const auto log = dir.path / "strace.log";
    auto r = moonshift::test::run_program("/usr/bin/strace",
                                          {"-f", "-y", "-s", "8192", "-e", "trace=fsync,sendto",
                                           "-o", log.string(), MOONSHIFT_BIN, "--no-color", "down"},
                                          dir.path);
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.out << r.err);
    BOOST_TEST(!table_exists("scratch"));
    auto location = scalar("SELECT location FROM moonshift.backups WHERE version = '002'");
    BOOST_REQUIRE(!location.empty());
    // An fsync that another thread's line interrupts is split in two ("fsync(5</path> <unfinished
    // ...>", then "<... fsync resumed>) = 0" on a line of the same pid): it ends on the second.
    std::ifstream in(log);
    std::map<std::string, std::string> open_sync;  // pid -> path of its unfinished fsync
    long file_synced = -1, folder_synced = -1, dropped = -1, committed = -1, completed = -1, n = 0;
    auto synced = [&](const std::string& what, long at) {
        if (what.find("public.scratch.copy.gz>") != std::string::npos && file_synced < 0)
            file_synced = at;
        if (what.find(location + ">") != std::string::npos && folder_synced < 0) folder_synced = at;
    };
    for (std::string line; std::getline(in, line); ++n) {
        const std::string pid = line.substr(0, line.find(' '));
        if (line.find("fsync(") != std::string::npos) {
            if (line.find("<unfinished") != std::string::npos)
                open_sync[pid] = line;
            else
                synced(line, n);
        } else if (line.find("<... fsync resumed>") != std::string::npos && open_sync.count(pid)) {
            synced(open_sync[pid], n);
            open_sync.erase(pid);
        }
        if (line.find("sendto(") != std::string::npos) {
            if (line.find("DROP TABLE scratch;") != std::string::npos && dropped < 0) dropped = n;
            if (dropped >= 0 && line.find("COMMIT") != std::string::npos && committed < 0)
                committed = n;
            if (line.find("SET status = 'complete'") != std::string::npos && completed < 0)
                completed = n;
        }
    }
    BOOST_TEST(file_synced >= 0, "the table's file was synced");
    BOOST_TEST(folder_synced >= 0, "its folder was synced");
    BOOST_TEST(dropped >= 0, "the DROP was sent");
    BOOST_TEST(committed > dropped, "the COMMIT was sent after it");
    BOOST_TEST(file_synced < committed);
    BOOST_TEST(folder_synced < committed);
    // The backup's row says complete only once its files are on disk: it goes with the commit.
    BOOST_TEST(completed == committed, "the row is completed in the commit's message");
}

// The backup before a down is taken in the down's own transaction, its tables locked first: a
// row another session is writing when `down` starts is either in the backup or never written.
// Before, the backup's snapshot did not wait for the writer, the DROP did, and the row it then
// committed was dropped with the table without being in any backup.
BOTH_STORES(a_row_written_while_the_down_waits_is_in_its_backup) {
    migration("002_scratch.sql",
              "CREATE TABLE scratch (id int primary key, note text);\n"
              "INSERT INTO scratch SELECT g, 'old' FROM generate_series(1, 10) g;\n");
    migration("002_scratch.down.sql", "DROP TABLE scratch;\n");
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    pqxx::connection writer(url);
    pqxx::work w(writer);
    w.exec("INSERT INTO scratch VALUES (11, 'written while down waits')");
    auto down = spawn({"down"});
    // Wait until the down waits for the writer's lock (at most 30 s), then commit the row.
    bool waiting = false;
    for (int i = 0; i < 300 && !waiting; ++i) {
        waiting = count(
                      "SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                      "WHERE c.relname = 'scratch' AND NOT l.granted") > 0;
        if (!waiting) usleep(100 * 1000);
    }
    BOOST_REQUIRE_MESSAGE(waiting, "the down never waited for the writer");
    w.commit();
    auto r = down.wait();
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.out + r.err);
    BOOST_TEST(!table_exists("scratch"));
    BOOST_TEST(scalar("SELECT rows FROM moonshift.backups WHERE version = '002'") == "11");
    auto id = scalar("SELECT id FROM moonshift.backups WHERE version = '002'");
    auto restore = ms({"--yes", "backup", "restore", id});
    BOOST_REQUIRE_MESSAGE(restore.exit_code == 0, restore.err + restore.out);
    BOOST_TEST(scalar("SELECT note FROM scratch WHERE id = 11") == "written while down waits");
}

// A down that fails after its backup was taken: the backup's row goes with the rolled back
// transaction, and so do its files; the table and its rows are as before.
BOTH_STORES(a_failing_down_leaves_no_backup_behind) {
    migration("002_scratch.sql",
              "CREATE TABLE scratch (id int primary key);\n"
              "INSERT INTO scratch SELECT generate_series(1, 10);\n");
    migration("002_scratch.down.sql", "DROP TABLE scratch;\nSELECT 1/0;\n");
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    auto r = ms({"down"});
    BOOST_TEST(r.exit_code == 1, r.out + r.err);
    BOOST_TEST(has(r.err, "002_scratch.down.sql:2:"), r.err);  // the statement that failed
    BOOST_TEST(table_exists("scratch"));
    BOOST_TEST(count("SELECT 1 FROM scratch") == 10);
    BOOST_TEST(count("SELECT 1 FROM moonshift.backups") == 0);
    if (!in_db) {
        auto where = dir.path / ".moonshift" / "backups";
        std::size_t folders = 0;
        if (std::filesystem::exists(where))
            for (auto& e : std::filesystem::recursive_directory_iterator(where))
                folders += e.path().filename().string().find("_002_") != std::string::npos;
        BOOST_TEST(folders == 0u);
    }
}

BOOST_AUTO_TEST_SUITE_END()
