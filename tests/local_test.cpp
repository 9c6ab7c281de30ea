// The private local cluster (host/local) against the real PostgreSQL server binaries, and the
// test harness itself (fresh databases, temporary directories, running programs).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <pqxx/pqxx>

#include "common/error.hpp"
#include "common/text.hpp"
#include "local/cluster.hpp"
#include "support/harness.hpp"

namespace fs = std::filesystem;
using moonshift::local::cluster;
using moonshift::test::temp_dir;

namespace {

moonshift::local::options fast() {
    moonshift::local::options o;
    o.fsync = false;
    return o;
}

std::string scalar(const std::string& url, const std::string& sql) {
    pqxx::connection conn(url);
    pqxx::nontransaction tx(conn);
    return tx.exec1(sql)[0].as<std::string>();
}

void exec(const std::string& url, const std::string& sql) {
    pqxx::connection conn(url);
    pqxx::nontransaction tx(conn);
    tx.exec0(sql);
}

// Sets (or unsets) an environment variable for one scope.
class scoped_env {
  public:
    scoped_env(const char* name, std::optional<std::string> value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value)
            ::setenv(name, value->c_str(), 1);
        else
            ::unsetenv(name);
    }
    ~scoped_env() {
        if (old_)
            ::setenv(name_, old_->c_str(), 1);
        else
            ::unsetenv(name_);
    }

  private:
    const char* name_;
    std::optional<std::string> old_;
};

// Whether process pid has ended (a zombie waiting for init to reap it counts as ended).
bool ended(int pid) {
    for (int i = 0; i < 100; ++i) {
        if (::kill(pid, 0) != 0) return true;
        std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
        std::string stat;
        if (!std::getline(in, stat)) return true;
        const auto paren = stat.rfind(')');
        if (paren != std::string::npos && stat.substr(paren + 1, 3) == " Z ") return true;
        ::usleep(50 * 1000);
    }
    return false;
}

boost::test_tools::assertion_result running_as_root(boost::unit_test::test_unit_id) {
    boost::test_tools::assertion_result r(::geteuid() == 0);
    r.message() << "only root relocates the data of an unreachable project";
    return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(local_cluster)

BOOST_AUTO_TEST_CASE(start_serves_password_logins_on_loopback_only) {
    temp_dir dir;
    cluster c(dir.path / ".moonshift" / "local", fast());
    const auto s = c.start();
    BOOST_TEST(s.initialized);
    BOOST_TEST(s.running);
    BOOST_TEST(s.pid > 0);
    BOOST_TEST(s.port > 0);
    BOOST_TEST(s.url.rfind("postgresql://postgres:", 0) == 0, "unexpected url " << s.url);
    BOOST_TEST(s.url.find("@127.0.0.1:" + std::to_string(s.port) + "/postgres") !=
               std::string::npos);
    BOOST_TEST(c.url() == s.url);

    BOOST_TEST(scalar(s.url, "SELECT 1") == "1");
    BOOST_TEST(scalar(s.url, "SHOW listen_addresses") == "127.0.0.1");
    BOOST_TEST(scalar(s.url, "SHOW unix_socket_directories") == "");
    BOOST_TEST(scalar(s.url, "SHOW fsync") == "off");
    BOOST_TEST(scalar(s.url, "SHOW synchronous_commit") == "off");
    BOOST_TEST(scalar(s.url, "SHOW full_page_writes") == "off");
    BOOST_TEST(scalar(s.url, "SHOW server_encoding") == "UTF8");

    // The password is required, and kept where only its owner can read it.
    std::string wrong = s.url;
    wrong.replace(wrong.find(':', 14) + 1, 4, "xxxx");
    BOOST_CHECK_THROW(pqxx::connection{wrong}, pqxx::broken_connection);
    const fs::path root = dir.path / ".moonshift" / "local";
    BOOST_TEST(s.url.find(moonshift::text::trim(moonshift::test::read_file(root / "password"))) !=
               std::string::npos);
    struct stat st {};
    BOOST_TEST_REQUIRE(::stat((root / "password").c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0600u);
    BOOST_TEST(moonshift::text::trim(moonshift::test::read_file(root / "port")) ==
               std::to_string(s.port));
    BOOST_TEST(fs::file_size(root / "server.log") > 0u);

    c.stop();
    const auto stopped = c.status();
    BOOST_TEST(stopped.initialized);
    BOOST_TEST(!stopped.running);
    BOOST_TEST(stopped.url.empty());
    BOOST_TEST(ended(s.pid), "the postmaster " << s.pid << " outlived stop()");
}

BOOST_AUTO_TEST_CASE(start_is_idempotent_and_a_restart_keeps_port_and_data) {
    temp_dir dir;
    cluster c(dir.path / "local", fast());
    const auto first = c.start();
    const auto again = c.start();
    BOOST_TEST(again.pid == first.pid);
    BOOST_TEST(again.port == first.port);
    BOOST_TEST(cluster(dir.path / "local").status().running, "another object sees it running");

    exec(first.url, "CREATE TABLE kept (id int); INSERT INTO kept VALUES (7)");
    c.stop();
    c.stop();  // a no-op when stopped
    const auto restarted = c.start();
    BOOST_TEST(restarted.port == first.port, "the last port is reused while it is free");
    BOOST_TEST(scalar(restarted.url, "SELECT id FROM kept") == "7");
}

BOOST_AUTO_TEST_CASE(url_is_a_usage_error_while_stopped) {
    temp_dir dir;
    cluster c(dir.path / "local", fast());
    auto says_not_running = [](const moonshift::error& e) {
        return e.code() == moonshift::exit_code::usage &&
               std::string(e.what()).find("moonshift local start") != std::string::npos;
    };
    BOOST_CHECK_EXCEPTION(c.url(), moonshift::error, says_not_running);
    BOOST_TEST(!c.status().initialized);
    BOOST_TEST(!c.status().running);
    c.stop();  // nothing to stop: no error
    c.start();
    BOOST_TEST(!c.url().empty());
    c.stop();
    BOOST_CHECK_EXCEPTION(c.url(), moonshift::error, says_not_running);
}

BOOST_AUTO_TEST_CASE(reset_wipes_the_data_and_keeps_the_password) {
    temp_dir dir;
    moonshift::local::options o = fast();
    o.database = "template1";
    cluster c(dir.path / "local", o);
    const auto before = c.start();
    BOOST_TEST(before.url.find("/template1") != std::string::npos);
    exec(before.url, "CREATE TABLE doomed (id int)");
    BOOST_TEST(scalar(before.url, "SELECT to_regclass('doomed') IS NOT NULL") == "t");

    c.reset();
    const auto after = c.status();
    BOOST_TEST(after.running);
    BOOST_TEST(after.pid != before.pid);
    BOOST_TEST(scalar(after.url, "SELECT to_regclass('doomed') IS NULL") == "t");
    const std::string password = moonshift::test::read_file(dir.path / "local" / "password");
    BOOST_TEST(after.url.find(moonshift::text::trim(password)) != std::string::npos);

    c.destroy();
    BOOST_TEST(!fs::exists(dir.path / "local"));
    BOOST_TEST(ended(after.pid), "the postmaster outlived destroy()");
}

BOOST_AUTO_TEST_CASE(missing_server_binaries_name_the_package_to_install) {
    temp_dir empty;
    {
        scoped_env env("MOONSHIFT_PG_BINDIR", empty.path.string());
        BOOST_CHECK_EXCEPTION(
            cluster::find_bin_dir(), moonshift::error, [](const moonshift::error& e) {
                const std::string m = e.what();
                return e.code() == moonshift::exit_code::usage &&
                       m.find("apt-get install postgresql") != std::string::npos &&
                       m.find("MOONSHIFT_PG_BINDIR") != std::string::npos;
            });
        cluster c(empty.path / "local", fast());
        BOOST_CHECK_THROW(c.start(), moonshift::error);
        BOOST_TEST(c.status().bin_dir.empty());
        BOOST_TEST(!c.status().running);
    }
    const std::string found = cluster::find_bin_dir();
    BOOST_TEST(fs::exists(fs::path(found) / "initdb"), found << " has no initdb");
    scoped_env env("MOONSHIFT_PG_BINDIR", found);
    BOOST_TEST(cluster::find_bin_dir() == found);
}

BOOST_AUTO_TEST_CASE(initdb_and_pg_ctl_failures_show_the_end_of_their_output) {
    temp_dir dir;
    const fs::path bin = dir.path / "bin";
    auto script = [&](const std::string& name, const std::string& body) {
        moonshift::test::write_file(bin / name, "#!/bin/sh\n" + body);
        fs::permissions(bin / name, fs::perms::owner_all | fs::perms::group_read |
                                        fs::perms::group_exec | fs::perms::others_read |
                                        fs::perms::others_exec);
    };
    script("initdb", "echo 'initdb: boom in the catalog' >&2; exit 1\n");
    script("pg_ctl", "exit 1\n");
    script("postgres", "exit 1\n");
    scoped_env env("MOONSHIFT_PG_BINDIR", bin.string());
    cluster c(dir.path / "local", fast());
    BOOST_CHECK_EXCEPTION(c.start(), moonshift::error, [](const moonshift::error& e) {
        const std::string m = e.what();
        return m.find("initdb failed") != std::string::npos &&
               m.find("boom in the catalog") != std::string::npos;
    });

    // initdb "works" now; pg_ctl writes (like the server) to the log and fails.
    script("initdb",
           "while [ $# -gt 0 ]; do [ \"$1\" = -D ] && d=$2; shift; done\n"
           "echo 15 > \"$d/PG_VERSION\"; touch \"$d/postgresql.conf\"\n");
    script("pg_ctl", "echo 'FATAL:  kaput at startup'; exit 1\n");
    BOOST_CHECK_EXCEPTION(c.start(), moonshift::error, [](const moonshift::error& e) {
        const std::string m = e.what();
        return m.find("did not start") != std::string::npos &&
               m.find("kaput at startup") != std::string::npos;
    });
    BOOST_TEST(!c.status().running);
}

// As root, a project the postgres user cannot reach keeps its data in /var/lib/moonshift.
BOOST_AUTO_TEST_CASE(unreachable_project_keeps_its_data_in_var_lib,
                     *boost::unit_test::precondition(running_as_root)) {
    temp_dir dir;
    const fs::path closed = dir.path / "closed";
    fs::create_directories(closed);
    fs::permissions(closed, fs::perms::owner_all);  // 0700, owned by root
    const fs::path root = closed / ".moonshift" / "local";
    cluster c(root, fast());
    const auto s = c.start();
    BOOST_TEST(s.running);
    BOOST_TEST(s.data_dir.string().rfind("/var/lib/moonshift/", 0) == 0u, s.data_dir);
    BOOST_TEST(moonshift::text::trim(moonshift::test::read_file(root / "datadir")) ==
               s.data_dir.string());
    BOOST_TEST(scalar(s.url, "SELECT 1") == "1");
    BOOST_TEST(fs::file_size(root / "server.log") > 0u, "the log stays in the project");
    BOOST_TEST((fs::status(closed).permissions() == fs::perms::owner_all),
               "the project's permissions are untouched");
    BOOST_TEST(cluster(root).status().running, "a new object finds the relocated data");

    c.destroy();
    BOOST_TEST(!fs::exists(s.data_dir.parent_path()), s.data_dir.parent_path() << " is left");
    BOOST_TEST(ended(s.pid), "the postmaster outlived destroy()");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(harness)

BOOST_FIXTURE_TEST_CASE(fresh_db_is_an_empty_database_of_its_own, moonshift::test::fresh_db) {
    BOOST_TEST(scalar(url, "SELECT current_database()") == name);
    BOOST_TEST(scalar(url,
                      "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = "
                      "c.relnamespace WHERE n.nspname = 'public'") == "0");
    exec(url, "CREATE TABLE mine (id int)");
}

BOOST_AUTO_TEST_CASE(fresh_db_is_dropped_afterwards) {
    std::string name;
    {
        moonshift::test::fresh_db db;
        name = db.name;
        pqxx::connection held(db.url);  // an open session does not keep it alive (FORCE)
        BOOST_TEST(scalar(moonshift::test::server_url(),
                          "SELECT count(*) FROM pg_database WHERE datname = '" + name + "'") ==
                   "1");
    }
    BOOST_TEST(scalar(moonshift::test::server_url(),
                      "SELECT count(*) FROM pg_database WHERE datname = '" + name + "'") == "0");
}

BOOST_AUTO_TEST_CASE(url_for_names_another_database_on_the_same_server) {
    const std::string url = moonshift::test::url_for("postgres");
    BOOST_TEST(scalar(url, "SELECT current_database()") == "postgres");
    BOOST_TEST(moonshift::test::url_for("x") != moonshift::test::server_url());
}

BOOST_AUTO_TEST_CASE(temp_dir_is_removed_afterwards) {
    fs::path kept;
    {
        temp_dir dir;
        kept = dir.path;
        moonshift::test::write_file(dir.path / "a" / "b" / "c.txt", "hello");
        BOOST_TEST(moonshift::test::read_file(dir.path / "a" / "b" / "c.txt") == "hello");
    }
    BOOST_TEST(!fs::exists(kept));
}

BOOST_AUTO_TEST_CASE(run_program_separates_stdout_stderr_and_exit_code) {
    temp_dir dir;
    auto r = moonshift::test::run_program(
        "/bin/sh", {"-c", "echo out; echo err >&2; pwd; read x || echo no-stdin; exit 3"},
        dir.path);
    BOOST_TEST(r.exit_code == 3);
    BOOST_TEST(r.out == "out\n" + fs::canonical(dir.path).string() + "\nno-stdin\n");
    BOOST_TEST(r.err == "err\n");
}

BOOST_AUTO_TEST_CASE(run_program_sets_and_unsets_environment_variables) {
    temp_dir dir;
    scoped_env database_url("DATABASE_URL", std::string("postgresql://developer@prod/db"));
    scoped_env home("MOONSHIFT_HARNESS_PROBE", std::string("inherited?"));
    auto r = moonshift::test::run_program(
        "/bin/sh",
        {"-c",
         "echo \"$GREETING|${HOME-unset}|${DATABASE_URL-none}|${MOONSHIFT_HARNESS_PROBE-none}\""},
        dir.path, {{"GREETING", "hi"}, {"HOME", std::nullopt}});
    BOOST_TEST(r.out == "hi|unset|none|none\n");
}

BOOST_AUTO_TEST_CASE(run_program_reads_large_output_on_both_streams) {
    temp_dir dir;
    auto r = moonshift::test::run_program(
        "/bin/sh",
        {"-c",
         "head -c 1000000 /dev/zero | tr '\\0' o; head -c 1000000 /dev/zero | tr '\\0' e >&2; "
         "head -c 1000000 /dev/zero | tr '\\0' o"},
        dir.path);
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(r.out.size() == 2000000u);
    BOOST_TEST(r.err.size() == 1000000u);
}

BOOST_AUTO_TEST_CASE(spawned_child_killed_with_sigkill_reports_137) {
    temp_dir dir;
    auto c =
        moonshift::test::spawn_program("/bin/sh", {"-c", "echo started; exec sleep 60"}, dir.path);
    BOOST_TEST_REQUIRE(c.pid > 0);
    BOOST_TEST_REQUIRE(::kill(c.pid, SIGKILL) == 0);
    auto r = c.wait();
    BOOST_TEST(r.exit_code == 137);
    BOOST_TEST(r.term_signal == SIGKILL);
}

BOOST_AUTO_TEST_CASE(run_cli_runs_the_built_moonshift) {
    temp_dir dir;
    BOOST_TEST_REQUIRE(fs::exists(MOONSHIFT_BIN), MOONSHIFT_BIN << " is not built");
    auto r = moonshift::test::run_cli({"--version"}, dir.path);
    BOOST_TEST(r.exit_code == 0, "stderr: " << r.err);
    BOOST_TEST(r.out.find(MOONSHIFT_VERSION) != std::string::npos, "stdout: " << r.out);
}

BOOST_AUTO_TEST_SUITE_END()
