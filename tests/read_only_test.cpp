// read_only = true refuses every command that writes (exit 2, naming the command) before it
// takes the lock or writes anything — not even a run row — and lets every reading command run.
#include <boost/test/unit_test.hpp>

#include "support/project.hpp"

namespace {
using moonshift::test::project;
using moonshift::test::write_file;

void write_config(const project& p, const std::string& settings) {
    write_file(
        p.dir.path / "moonshift.toml",
        "[project]\nmigrations = \"migrations\"\ndefault_env = \"test\"\n\n[env.test]\nurl = \"" +
            p.url + "\"\nlock_wait = \"2s\"\n" + settings + "\n[env.other]\nurl = \"" + p.url +
            "\"\n");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(read_only)

BOOST_AUTO_TEST_CASE(every_writing_command_is_refused_and_nothing_is_written) {
    project p;
    write_config(p, "");
    p.migration("001_t.sql", "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n");
    p.migration("002_u.sql", "CREATE TABLE u (id int);\n");
    p.migration("002_u.down.sql", "DROP TABLE u;\n");
    write_file(p.dir.path / "scripts" / "write.lua", "db:exec('CREATE TABLE from_run (id int)')\n");
    write_file(p.dir.path / "seeds" / "t.sql", "INSERT INTO t VALUES (2);\n");
    auto up = p.ms({"up"});
    BOOST_REQUIRE_MESSAGE(up.exit_code == 0, up.out + up.err);
    auto backup = p.ms({"backup", "create", "t"});
    BOOST_REQUIRE_MESSAGE(backup.exit_code == 0, backup.out + backup.err);
    p.migration("003_v.sql", "CREATE TABLE v (id int);\n");  // pending, for up and plan

    write_config(p, "read_only = true\n");
    auto before = p.fingerprint();
    // Every command that can change the database, with the name it is refused under.
    const std::vector<std::pair<std::vector<std::string>, std::string>> writers = {
        {{"up"}, "up"},
        {{"down"}, "down"},
        {{"redo"}, "down"},
        {{"baseline", "003"}, "baseline"},
        {{"repair", "--reason", "files changed"}, "repair"},
        {{"verify"}, "verify"},
        {{"run", "scripts/write.lua"}, "run"},
        {{"plan"}, "plan"},
        {{"backup", "create", "t"}, "backup create"},
        {{"backup", "restore", "1", "--into", "copies"}, "backup restore"},
        {{"backup", "prune"}, "backup prune"},
        {{"import", "--from", "golang-migrate"}, "import"},
        {{"seed"}, ""},  // refused before it connects, in its own words
        {{"backfill", "pause"}, "backfill pause"},
        {{"backfill", "resume"}, "backfill resume"},
        {{"promote", "--from", "other"}, "up"},
    };
    for (const auto& [args, name] : writers) {
        auto r = p.ms(args);
        std::string shown = args.front() + (args.size() > 1 ? " " + args[1] : "");
        BOOST_TEST(r.exit_code == 2,
                   "`moonshift " << shown << "` exited " << r.exit_code << ": " << r.out << r.err);
        BOOST_TEST(
            r.err.find("read-only") != std::string::npos,
            "`moonshift " << shown << "` did not say the environment is read-only: " << r.err);
        if (!name.empty())
            BOOST_TEST(r.err.find("`moonshift " + name + "` would change it") != std::string::npos,
                       r.err);
        BOOST_TEST(p.fingerprint() == before, "`moonshift " << shown << "` wrote to the database");
    }
    BOOST_TEST(!p.table_exists("from_run"));
    BOOST_TEST(!p.table_exists("v"));

    // Reading is fine, and writes nothing either.
    const std::vector<std::vector<std::string>> readers = {
        {"status"},          {"history"},           {"lint"},
        {"check"},           {"backup", "list"},    {"backfill", "status"},
        {"up", "--dry-run"}, {"down", "--dry-run"}, {"backup", "prune", "--dry-run"},
    };
    for (const auto& args : readers) {
        auto r = p.ms(args);
        BOOST_TEST(r.exit_code != 2, "`moonshift " << args.front() << "` was refused: " << r.err);
        BOOST_TEST(r.err.find("read-only") == std::string::npos, r.err);
    }
    BOOST_TEST(p.fingerprint() == before);
}

BOOST_AUTO_TEST_SUITE_END()
