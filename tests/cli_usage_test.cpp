// The command line's manners: typo suggestions, `help CMD`, global options in every --help,
// --url / --migrations-dir and their variables, no password echoed, `status --exit-code`,
// aligned status columns, -q, and the exit code of a refused connection.
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <sstream>

#include "support/project.hpp"

using namespace moonshift::test;

namespace {

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

// A project whose moonshift.toml points nowhere: only --url or MOONSHIFT_URL can reach the
// test's database.
struct unreachable_project : fresh_db {
    temp_dir dir;
    unreachable_project() {
        write_file(dir.path / "moonshift.toml",
                   "[env.test]\nurl = \"postgresql://nobody@127.0.0.1:1/none\"\n");
        write_file(dir.path / "migrations/001_things.sql", "CREATE TABLE things (id int);\n");
    }
    cli_result ms(std::vector<std::string> args, const env_changes& env = {}) const {
        args.insert(args.begin(), "--no-color");
        return run_cli(args, dir.path, env);
    }
    bool applied() const {
        pqxx::connection c(url);
        pqxx::nontransaction tx(c);
        return tx.exec1("SELECT to_regclass('things') IS NOT NULL")[0].as<bool>();
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_usage)

BOOST_AUTO_TEST_CASE(a_misspelt_command_suggests_the_right_one) {
    temp_dir d;
    auto r = run_cli({"stauts"}, d.path);
    BOOST_TEST(r.exit_code == 2, r.out << r.err);
    BOOST_TEST(contains(r.err, "unknown command \"stauts\""), r.err);
    BOOST_TEST(contains(r.err, "did you mean status?"), r.err);
}

BOOST_AUTO_TEST_CASE(a_misspelt_option_suggests_the_right_one) {
    temp_dir d;
    auto r = run_cli({"up", "--dry-rn"}, d.path);
    BOOST_TEST(r.exit_code == 2, r.out << r.err);
    BOOST_TEST(contains(r.err, "unknown option --dry-rn"), r.err);
    BOOST_TEST(contains(r.err, "did you mean --dry-run?"), r.err);
}

BOOST_AUTO_TEST_CASE(an_unknown_flag_never_echoes_the_password_it_was_given) {
    temp_dir d;
    for (auto args : std::vector<std::vector<std::string>>{
             {"up", "--db-url", "postgresql://u:hunter2secret@db.example.com/app"},
             {"up", "--db-url=postgresql://u:hunter2secret@db.example.com/app"},
             {"--db-url", "postgresql://u:hunter2secret@db.example.com/app", "status"},
             {"status", "postgresql://u:hunter2secret@db.example.com/app"}}) {
        auto r = run_cli(args, d.path);
        BOOST_TEST(r.exit_code == 2, r.out << r.err);
        BOOST_TEST(!contains(r.out + r.err, "hunter2secret"), r.out << r.err);
    }
    auto r = run_cli({"up", "--db-url", "postgresql://u:hunter2secret@db.example.com/app"}, d.path);
    BOOST_TEST(contains(r.err, "did you mean --url?"), r.err);
}

BOOST_AUTO_TEST_CASE(help_cmd_shows_the_command_and_the_global_options) {
    temp_dir d;
    auto r = run_cli({"help", "up"}, d.path);
    BOOST_TEST(r.exit_code == 0, r.out << r.err);
    BOOST_TEST(contains(r.out, "--dry-run"), r.out);
    BOOST_TEST(contains(r.out, "--url"), r.out);
    auto nested = run_cli({"help", "backup", "restore"}, d.path);
    BOOST_TEST(nested.exit_code == 0, nested.out << nested.err);
    BOOST_TEST(contains(nested.out, "restore"), nested.out);
    auto typo = run_cli({"help", "stauts"}, d.path);
    BOOST_TEST(typo.exit_code == 2, typo.out << typo.err);
    BOOST_TEST(contains(typo.err, "did you mean status?"), typo.err);
}

BOOST_AUTO_TEST_CASE(every_commands_help_lists_the_global_options) {
    temp_dir d;
    for (std::string cmd : {"up", "status", "down", "lint", "history"}) {
        auto r = run_cli({cmd, "--help"}, d.path);
        BOOST_TEST(r.exit_code == 0, cmd << ": " << r.out << r.err);
        for (std::string opt : {"--env", "--config", "--url", "--migrations-dir", "--json",
                                "--quiet", "MOONSHIFT_URL"})
            BOOST_TEST(contains(r.out, opt), cmd << " --help lacks " << opt << ":\n" << r.out);
    }
}

BOOST_FIXTURE_TEST_CASE(url_option_wins_over_the_environments_url, unreachable_project) {
    auto r = ms({"up", "--url", url});
    BOOST_TEST(r.exit_code == 0, r.out << r.err);
    BOOST_TEST(applied());
}

BOOST_FIXTURE_TEST_CASE(moonshift_url_wins_over_database_url, unreachable_project) {
    std::filesystem::remove(dir.path / "moonshift.toml");
    auto r = ms({"up"},
                {{"MOONSHIFT_URL", url}, {"DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none"}});
    BOOST_TEST(r.exit_code == 0, r.out << r.err);
    BOOST_TEST(applied());
}

BOOST_FIXTURE_TEST_CASE(migrations_dir_option_and_variable, unreachable_project) {
    write_file(dir.path / "elsewhere/001_other.sql", "CREATE TABLE other (id int);\n");
    auto r = ms({"status", "--url", url, "--migrations-dir", "elsewhere"});
    BOOST_TEST(r.exit_code == 0, r.out << r.err);
    BOOST_TEST(contains(r.out, "001_other"), r.out);
    BOOST_TEST(!contains(r.out, "001_things"), r.out);
    auto v = ms({"status"}, {{"MOONSHIFT_URL", url}, {"MOONSHIFT_MIGRATIONS_DIR", "elsewhere"}});
    BOOST_TEST(v.exit_code == 0, v.out << v.err);
    BOOST_TEST(contains(v.out, "001_other"), v.out);
}

BOOST_FIXTURE_TEST_CASE(a_refused_connection_is_a_configuration_error, unreachable_project) {
    auto r = ms({"status", "--url", "postgresql://u:hunter2secret@127.0.0.1:1/none"});
    BOOST_TEST(r.exit_code == 2, r.out << r.err);
    BOOST_TEST(contains(r.err, "cannot connect to"), r.err);
    BOOST_TEST(contains(r.err, "hint: nothing listens at that host and port"), r.err);
    BOOST_TEST(!contains(r.out + r.err, "hunter2secret"), r.out << r.err);
}

// libpq comes in the module moonshift-pq.so, loaded on the first connection: a binary without
// it still lints offline, and a command that connects says what is missing, changing nothing.
BOOST_FIXTURE_TEST_CASE(without_its_libpq_module_offline_work_runs_and_connecting_says_why,
                        unreachable_project) {
    temp_dir alone;
    const auto bin = alone.path / "moonshift";
    std::filesystem::copy_file(MOONSHIFT_BIN, bin);
    std::filesystem::permissions(bin, std::filesystem::perms::owner_all);
    auto lint = run_program(bin.string(), {"--no-color", "lint", "--offline"}, dir.path);
    BOOST_TEST(lint.exit_code == 0, lint.out << lint.err);
    auto up = run_program(bin.string(), {"--no-color", "up", "--url", url}, dir.path);
    BOOST_TEST(up.exit_code == 2, up.out << up.err);
    BOOST_TEST(contains(up.err, "cannot load libpq"), up.err);
    BOOST_TEST(contains(up.err, "moonshift-pq.so"), up.err);
    BOOST_TEST(contains(up.err, "hint: reinstall moonshift"), up.err);
    BOOST_TEST(!applied(), "nothing ran");
    // The same command with the module beside the binary (as the build tree and the
    // package have it) connects and applies.
    std::filesystem::copy_file(
        std::filesystem::path(MOONSHIFT_BIN).parent_path() / "moonshift-pq.so",
        alone.path / "moonshift-pq.so");
    auto again = run_program(bin.string(), {"--no-color", "up", "--url", url}, dir.path);
    BOOST_TEST(again.exit_code == 0, again.out << again.err);
    BOOST_TEST(applied());
}

BOOST_FIXTURE_TEST_CASE(status_exit_code_says_pending_changed_or_up_to_date, project) {
    migration("001_a.sql", "CREATE TABLE a (id int);\n");
    BOOST_TEST(ms({"status"}).exit_code == 0, "without --exit-code pending is not a failure");
    auto pending = ms({"status", "--exit-code"});
    BOOST_TEST(pending.exit_code == 1, pending.out << pending.err);
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    auto clean = ms({"status", "--exit-code"});
    BOOST_TEST(clean.exit_code == 0, clean.out << clean.err);
    migration("001_a.sql", "CREATE TABLE a (id bigint);\n");
    auto changed = ms({"status", "--exit-code"});
    BOOST_TEST(changed.exit_code == 5, changed.out << changed.err);
}

BOOST_FIXTURE_TEST_CASE(status_columns_follow_the_content, project) {
    migration("001_a.sql", "CREATE TABLE a (id int);\n");
    migration("002_a_much_longer_migration_name_than_the_column.sql", "CREATE TABLE b (id int);\n");
    migration("003_c.sql", "CREATE TABLE c (id int);\n");
    BOOST_REQUIRE(ms({"up", "--to", "002"}).exit_code == 0);
    auto r = ms({"status"});
    BOOST_TEST_INFO(r.out);
    auto lines = lines_of(r.out);
    std::size_t header = lines.size();
    for (std::size_t i = 0; i < lines.size(); ++i)
        if (contains(lines[i], "MIGRATION")) header = i;
    BOOST_REQUIRE(header + 3 < lines.size());
    auto state_at = lines[header].find("STATE");
    auto name_at = lines[header].find("MIGRATION");
    BOOST_TEST(lines[header + 1].find("001_a") == name_at);
    BOOST_TEST(lines[header + 2].find("002_a_much") == name_at);
    BOOST_TEST(lines[header + 1].find("applied") == state_at);
    BOOST_TEST(lines[header + 2].find("applied") == state_at);
    BOOST_TEST(lines[header + 3].find("pending") == state_at);
}

BOOST_FIXTURE_TEST_CASE(quiet_prints_nothing_but_errors, project) {
    migration("001_a.sql", "CREATE TABLE a (id int);\n");
    auto r = ms({"-q", "up"});
    BOOST_TEST(r.exit_code == 0, r.out << r.err);
    BOOST_TEST(r.out.empty(), r.out);
    BOOST_TEST(table_exists("a"));
    migration("002_b.sql", "CREATE TABLE a (id int);\n");
    auto failed = ms({"up", "--quiet"});
    BOOST_TEST(failed.exit_code == 1);
    BOOST_TEST(contains(failed.err, "already exists"), failed.err);
}

BOOST_AUTO_TEST_SUITE_END()
