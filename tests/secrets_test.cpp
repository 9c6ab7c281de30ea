// Secrets never leave, and no input size breaks a command, through the real binary: long
// words in Lua log lines and errors (mid-migration and in a hook), long runs of spaces in
// migration files, each URL typo and keyword form, a *_PW variable, and pg_dump's command
// line with [backup] full = true.
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "support/project.hpp"
#include "support/receivers.hpp"

using moonshift::test::project;
using moonshift::test::write_file;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

// The password of the test server's URL (postgresql://postgres:PASSWORD@host:port/db).
std::string password_of(const std::string& url) {
    auto scheme = url.find("://");
    auto at = url.find('@');
    if (scheme == std::string::npos || at == std::string::npos) return "";
    auto colon = url.find(':', scheme + 3);
    return colon < at ? url.substr(colon + 1, at - colon - 1) : "";
}

std::string find_on_path(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "";
    for (std::size_t start = 0; start <= dirs.size();) {
        auto colon = dirs.find(':', start);
        auto dir =
            dirs.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
        if (!dir.empty() && ::access((dir + "/" + name).c_str(), X_OK) == 0)
            return dir + "/" + name;
        if (colon == std::string::npos) break;
        start = colon + 1;
    }
    return "";
}

// A Lua migration that logs a word of n characters and a hook that does the same.
void long_words(project& p, std::size_t n, bool fail) {
    std::string rep = "string.rep('w', " + std::to_string(n) + ")";
    p.migration("001_long.lua", "return {\n  up = function(db, ctx)\n    log.warn(" + rep +
                                    ")\n    db:exec('CREATE TABLE done_" + std::to_string(n) +
                                    " (id int)')\n" + (fail ? "    error(" + rep + ")\n" : "") +
                                    "  end,\n}\n");
    write_file(p.dir.path / "hooks" / "audit.lua",
               "return {\n  ['run.finish'] = function(ev)\n    log.warn('hook ' .. " + rep +
                   ")\n    error('hook failed ' .. " + rep + ")\n  end,\n}\n");
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(secrets)

BOOST_AUTO_TEST_CASE(long_words_in_lua_log_lines_and_errors_do_not_crash_up) {
    for (std::size_t n : {std::size_t(40000), std::size_t(1000000)}) {
        project p;
        long_words(p, n, false);
        auto t0 = std::chrono::steady_clock::now();
        auto r = p.ms({"up"});
        BOOST_TEST(r.term_signal == 0, n << " characters: killed by signal " << r.term_signal);
        BOOST_TEST(r.exit_code == 0, n << " characters: " << r.err.substr(0, 2000));
        BOOST_TEST(seconds_since(t0) < 60.0, n << " characters took " << seconds_since(t0) << " s");
        BOOST_TEST(contains(r.err, std::string(n, 'w')), "the log line is shown whole");
        BOOST_TEST(contains(r.err, "hook failed www"), r.err.substr(0, 300));
        BOOST_TEST(p.table_exists("done_" + std::to_string(n)));
    }
    // An error with a long word fails the migration cleanly.
    project p;
    long_words(p, 40000, true);
    auto r = p.ms({"up"});
    BOOST_TEST(r.term_signal == 0);
    BOOST_TEST(r.exit_code != 0);
    BOOST_TEST(contains(r.err, "001_long.lua"), r.err.substr(0, 500));
    BOOST_TEST(!p.table_exists("done_40000"));
}

BOOST_AUTO_TEST_CASE(a_migration_with_a_long_run_of_spaces_is_read_by_every_command) {
    project p;
    p.migration("001_wide.sql", "CREATE TABLE wide (id int);" + std::string(100000, ' ') + "\n");
    p.migration(
        "002_lua.lua",
        "return {\n" + std::string(100000, ' ') +
            "\n  up = function(db) db:exec('CREATE TABLE lua_t (id int PRIMARY KEY, n int)') "
            "end,\n  backfill = { table = 'lua_t', key = 'id', set = { n = "
            "'1' } },\n}\n");
    auto s = p.ms({"status"});
    BOOST_TEST(s.term_signal == 0);
    BOOST_TEST(s.exit_code == 0, s.err);
    BOOST_TEST(contains(s.out, "001"), s.out);
    auto r = p.ms({"up"});
    BOOST_TEST(r.term_signal == 0);
    BOOST_TEST(r.exit_code == 0, r.err.substr(0, 2000));
    BOOST_TEST(p.table_exists("wide"));
    BOOST_TEST(p.table_exists("lua_t"));
}

BOOST_AUTO_TEST_CASE(dbmate_and_sqitch_files_with_long_runs_are_read) {
    project p;
    p.migration("20250101000000_wide.sql",
                "-- migrate:up" + std::string(100000, ' ') + "\nCREATE TABLE wide (id int);" +
                    std::string(100000, ' ') + "\n-- migrate:down\nDROP TABLE wide;\n");
    auto s = p.ms({"status"});
    BOOST_TEST(s.term_signal == 0);
    BOOST_TEST(s.exit_code == 0, s.err);
    BOOST_TEST(contains(s.out, "20250101000000"), s.out);
    auto r = p.ms({"up"});
    BOOST_TEST(r.exit_code == 0, r.err.substr(0, 2000));
    BOOST_TEST(p.table_exists("wide"));

    project q;
    write_file(q.dir.path / "migrations" / "sqitch.plan",
               "%syntax-version=1.0.0\n%project=wide\n\nwide 2024-03-01T10:00:00Z A <a@b.c> # " +
                   std::string(100000, 'n') + "\n");
    write_file(q.dir.path / "migrations" / "deploy" / "wide.sql", "CREATE TABLE wide (id int);\n");
    write_file(q.dir.path / "migrations" / "revert" / "wide.sql", "DROP TABLE wide;\n");
    auto t = q.ms({"status"});
    BOOST_TEST(t.term_signal == 0);
    BOOST_TEST(t.exit_code == 0, t.err);
    BOOST_TEST(contains(t.out, "wide"), t.out);
}

BOOST_AUTO_TEST_CASE(no_url_typo_or_keyword_form_prints_its_password) {
    int port = moonshift::test::unused_port();
    std::string at = "127.0.0.1:" + std::to_string(port) + "/app";
    std::string where = "host=127.0.0.1 port=" + std::to_string(port) + " ";
    const std::pair<std::string, std::string> cases[] = {
        {"postgres:/app:Hunter22x@" + at, "Hunter22x"},
        {"postgresql//app:Hunter22x@" + at, "Hunter22x"},
        {"postgres://app:Hun%ter22x@" + at, "ter22x"},
        {"postgres://app:p@ss@Hunter22x@" + at, "Hunter22x"},
        {where + "password=ab&Hunter22x dbname=app", "Hunter22x"},
        {where + "passwrd=Hunter22x dbname=app", "Hunter22x"},
        {where + "pwd=Hunter22x dbname=app", "Hunter22x"},
        {"postgres://" + at + "?password=Hunter22x&sslmode=disable", "Hunter22x"},
    };
    for (const auto& [url, secret] : cases) {
        project p;
        write_file(p.dir.path / "moonshift.toml",
                   "[project]\nmigrations = \"migrations\"\n\n[env.test]\nurl = \"" + url +
                       "\"\nlock_wait = \"1s\"\n");
        p.migration("001_a.sql", "CREATE TABLE a (id int);\n");
        for (auto args : {std::vector<std::string>{"status"}, {"up"}, {"--json", "up"}}) {
            auto r = p.ms(args);
            BOOST_TEST(r.exit_code != 0, url);
            BOOST_TEST(!contains(r.out + r.err, secret), url << " (" << args.back() << "):\n"
                                                             << r.out << r.err);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_pw_variable_is_never_printed) {
    project p;
    write_file(p.dir.path / ".env", "APP_PW=Pw-value-9137\n");
    p.migration("001_log.lua",
                "return {\n  up = function(db)\n"
                "    log.warn('the value is ' .. env.get('APP_PW'))\n"
                "    print(env.get('APP_PW'))\n"
                "    db:exec('CREATE TABLE logged (id int)')\n  end,\n}\n");
    p.migration("002_bad.sql", "SELECT 'Pw-value-9137'::int;\n");
    // From the process environment (scripts read it through env) and from .env (which makes
    // the SQL error's quote of it secret even for a run that reads no variable).
    auto up = p.ms({"up"}, {{"APP_PW", "Pw-value-9137"}});
    BOOST_TEST(up.exit_code != 0, "002 fails");
    BOOST_TEST(contains(up.err, "the value is ***"), up.out << up.err);
    BOOST_TEST(!contains(up.out + up.err, "Pw-value-9137"), up.out << up.err);
    BOOST_TEST(p.table_exists("logged"));
    auto json = p.ms({"--json", "up"}, {{"APP_PW", "Pw-value-9137"}});
    BOOST_TEST(json.exit_code != 0, "002 fails");
    BOOST_TEST(!contains(json.out + json.err, "Pw-value-9137"), json.out << json.err);
    // In the URL, from a variable: a typo makes libpq quote the password alone.
    project q;
    write_file(q.dir.path / ".env", "DB_PW=Raw%zzPw-9137\n");
    write_file(q.dir.path / "moonshift.toml",
               "[project]\nmigrations = \"migrations\"\n\n[env.test]\nurl = "
               "\"postgres://app:${DB_PW}@127.0.0.1:1/app\"\n");
    auto r = q.ms({"status"});
    BOOST_TEST(r.exit_code != 0);
    BOOST_TEST(!contains(r.out + r.err, "zzPw-9137"), r.out << r.err);
}

BOOST_AUTO_TEST_CASE(pg_dump_gets_no_password_on_its_command_line) {
    std::string real = find_on_path("pg_dump");
    std::string password = password_of(moonshift::test::server_url());
    // Checked here rather than skipped: the suite's server always has a password and the
    // backup suite needs pg_dump too.
    BOOST_REQUIRE_MESSAGE(!real.empty(), "pg_dump is on PATH");
    BOOST_REQUIRE_MESSAGE(password.size() >= 3, "the test server's URL has a password");
    project p("backup = \"always\"\n\n[backup]\nfull = true\n");
    fs::path bin = p.dir.path / "bin", record = p.dir.path / "pg_dump.record";
    // Records what anyone could see of the child (/proc/PID/cmdline) and the passfile it was
    // given (its mode and content), then runs the real pg_dump.
    write_file(bin / "pg_dump",
               "#!/bin/sh\n{\n  echo CMDLINE; tr '\\0' '\\n' < /proc/$$/cmdline\n"
               "  echo PGPASSFILE=$PGPASSFILE\n"
               "  echo MODE=$(stat -c %a \"$PGPASSFILE\")\n"
               "  echo PASSFILE; cat \"$PGPASSFILE\"\n} > '" +
                   record.string() + "'\nexec '" + real + "' \"$@\"\n");
    fs::permissions(bin / "pg_dump", fs::perms::owner_all);
    p.migration("001_a.sql", "CREATE TABLE a (id int);\n");
    const char* path = std::getenv("PATH");
    auto r = p.ms({"up"}, {{"PATH", bin.string() + ":" + (path ? path : "/usr/bin:/bin")}});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(p.scalar("SELECT kind FROM moonshift.backups WHERE version = '001'") == "pg_dump");
    std::string seen = moonshift::test::read_file(record);
    auto cmdline = seen.substr(0, seen.find("PGPASSFILE="));
    BOOST_TEST(contains(cmdline, "--dbname="), seen);
    BOOST_TEST(!contains(cmdline, password), "the password is on pg_dump's command line:\n"
                                                 << cmdline);
    BOOST_TEST(contains(seen, "MODE=600"), seen);
    BOOST_TEST(contains(seen.substr(seen.find("PASSFILE\n")), password), "the passfile holds it");
    auto line = seen.substr(seen.find("PGPASSFILE=") + 11);
    BOOST_TEST(!fs::exists(line.substr(0, line.find('\n'))), "the passfile is removed after");
    BOOST_TEST(!contains(r.out + r.err, password));
}

BOOST_AUTO_TEST_SUITE_END()
