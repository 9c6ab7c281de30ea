// `moonshift fleet`: many databases of the local cluster migrated as one — waves, the first
// failure stopping the waves after it with the tenant named, a kill -9 carried on by the next
// run with every target applied exactly once, `fleet status` agreeing with each target's own
// `status`, one hook event per wave, and a bad [fleet.NAME] refused naming moonshift.toml:line.
#include <signal.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <pqxx/pqxx>
#include <thread>

#include "support/harness.hpp"
#include "support/receivers.hpp"
#include "support/skip.hpp"
#include "support/stages.hpp"

using namespace moonshift::test;

namespace {

bool has(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// n databases made from one small template (fast), named PREFIX_000 ..., dropped afterwards;
// a project whose moonshift.toml lists them as [fleet.tenants] on the test server.
struct tenants {
    temp_dir dir;
    std::string prefix;
    std::vector<std::string> dbs;

    explicit tenants(int n, const std::string& settings = "waves = [\"1\", \"10%\", \"100%\"]\n")
        : prefix("fleet_" + std::to_string(getpid()) + "_" + std::to_string(counter()++)) {
        pqxx::connection c(server_url());
        pqxx::nontransaction tx(c);
        tx.exec0("CREATE DATABASE " + prefix + "_tpl TEMPLATE template0");
        for (int i = 0; i < n; ++i) {
            char name[96];
            std::snprintf(name, sizeof name, "%s_%03d", prefix.c_str(), i);
            tx.exec0(std::string("CREATE DATABASE ") + name + " TEMPLATE " + prefix +
                     "_tpl STRATEGY FILE_COPY");
            dbs.push_back(name);
        }
        write_config(settings);
        std::filesystem::create_directories(dir.path / "migrations");
    }
    ~tenants() {
        try {
            pqxx::connection c(server_url());
            pqxx::nontransaction tx(c);
            for (const auto& d : dbs) tx.exec0("DROP DATABASE IF EXISTS " + d + " WITH (FORCE)");
            tx.exec0("DROP DATABASE IF EXISTS " + prefix + "_tpl WITH (FORCE)");
        } catch (const std::exception& e) {
            BOOST_TEST_MESSAGE("could not drop the fleet's databases: " << e.what());
        }
    }
    static int& counter() {
        static int n = 0;
        return n;
    }
    std::string list() const {
        std::string out;
        for (const auto& d : dbs) out += (out.empty() ? "\"" : ", \"") + d + "\"";
        return out;
    }
    void write_config(const std::string& settings, const std::string& extra = "") const {
        write_file(dir.path / "moonshift.toml",
                   "[project]\nmigrations = \"migrations\"\nlock_wait = \"5s\"\n\n"
                   "[lint]\nexposed_schemas = [\"api\"]\n\n"
                   "[fleet.tenants]\nserver = \"" +
                       server_url() + "\"\ndatabases = [" + list() + "]\n" + settings + "\n" +
                       extra);
    }
    void migration(const std::string& file, const std::string& sql) const {
        write_file(dir.path / "migrations" / file, sql);
    }
    cli_result ms(std::vector<std::string> args, const env_changes& env = {}) const {
        args.insert(args.begin(), "--no-color");
        return run_cli(args, dir.path, env, std::chrono::seconds(300));
    }
    child spawn(std::vector<std::string> args) const {
        args.insert(args.begin(), "--no-color");
        return spawn_cli(args, dir.path, {}, std::chrono::seconds(300));
    }
    std::string scalar(std::size_t i, const std::string& sql) const {
        pqxx::connection c(url_for(dbs[i]));
        pqxx::nontransaction tx(c);
        auto r = tx.exec(sql);
        return r.empty() || r[0][0].is_null() ? "" : r[0][0].c_str();
    }
    // The versions in the target's history ("" when it has none).
    std::string versions(std::size_t i) const {
        if (scalar(i, "SELECT to_regclass('moonshift.migrations') IS NULL") == "t") return "";
        return scalar(i,
                      "SELECT coalesce(string_agg(version, ',' ORDER BY version), '') FROM "
                      "moonshift.migrations");
    }
};

nlohmann::json result_of(const cli_result& r, const std::string& command) {
    for (auto& j : json_lines(r.out))
        if (j.value("result", "") == command) return j["fleet"];
    return nullptr;
}

std::vector<nlohmann::json> events_named(const cli_result& r, const std::string& name) {
    std::vector<nlohmann::json> out;
    for (auto& j : json_lines(r.out))
        if (j.value("event", "") == name) out.push_back(j);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fleet)

// long: one fleet of 200 databases through its whole life keeps the test fast
BOOST_AUTO_TEST_CASE(two_hundred_tenants_waves_failure_kill_and_status) {
    tenants t(200);
    t.migration("001_items.sql",
                "CREATE TABLE items (id int PRIMARY KEY);\nINSERT INTO items VALUES (1);\n");

    // Waves: a canary, up to 10%, the rest — applied and verified everywhere.
    auto up = t.ms({"--json", "fleet", "up", "-j", "4"});
    BOOST_REQUIRE_MESSAGE(up.exit_code == 0, up.out.substr(0, 2000) + up.err);
    auto rep = result_of(up, "fleet up");
    BOOST_REQUIRE(rep.is_object());
    BOOST_TEST(rep["outcome"] == "ok");
    BOOST_TEST(rep["waves"] == 3);
    BOOST_TEST(rep["summary"]["applied"] == 200);
    auto waves = events_named(up, "fleet.wave.start");
    BOOST_REQUIRE(waves.size() == 3u);
    BOOST_TEST(waves[0]["count"] == 1);
    BOOST_TEST(waves[0]["targets"][0] == t.dbs[0]);  // the first listed is the canary
    BOOST_TEST(waves[1]["count"] == 19);
    BOOST_TEST(waves[2]["count"] == 180);
    BOOST_TEST(events_named(up, "fleet.target.done").size() == 200u);
    for (std::size_t i = 0; i < t.dbs.size(); ++i) {
        BOOST_TEST(t.scalar(i, "SELECT count(*) FROM items") == "1", t.dbs[i]);
        BOOST_TEST(t.scalar(i,
                            "SELECT count(*) FROM moonshift.migrations WHERE verified_at IS "
                            "NOT NULL") == "1",
                   t.dbs[i] << " has its migration applied and verified");
    }

    // fleet status agrees with each target's own status --json.
    auto st = t.ms({"--json", "fleet", "status"});
    BOOST_REQUIRE_MESSAGE(st.exit_code == 0, st.out.substr(0, 2000) + st.err);
    auto all = result_of(st, "fleet status");
    BOOST_REQUIRE(all["targets"].size() == 200u);
    for (std::size_t i = 0; i < t.dbs.size(); i += 7) {
        auto own =
            json_lines(t.ms({"--json", "status"}, {{"MOONSHIFT_URL", url_for(t.dbs[i])}}).out);
        BOOST_REQUIRE(!own.empty());
        const auto& row = all["targets"][i];
        BOOST_TEST(row["target"] == t.dbs[i]);
        BOOST_TEST(row["summary"] == own.back()["summary"], t.dbs[i]);
        BOOST_TEST(row["head"] == "001");
    }

    // A migration that fails on the canary stops the fleet before the second wave, naming it.
    t.migration("002_more.sql",
                "DO $$ BEGIN IF current_database() = '" + t.dbs[0] +
                    "' THEN RAISE EXCEPTION 'tenant data the migration did not expect'; END IF; "
                    "END $$;\nINSERT INTO items VALUES (2);\n");
    auto bad = t.ms({"--json", "fleet", "up", "-j", "4"});
    BOOST_TEST(bad.exit_code != 0);
    auto badrep = result_of(bad, "fleet up");
    BOOST_REQUIRE(badrep.is_object());
    BOOST_TEST(badrep["failed_target"] == t.dbs[0]);
    BOOST_TEST(has(bad.err, t.dbs[0]), bad.err);
    BOOST_TEST(has(bad.err, "did not expect"), bad.err);
    BOOST_TEST(events_named(bad, "fleet.wave.start").size() == 1u);
    BOOST_TEST(badrep["summary"]["not run"] == 199);
    for (std::size_t i = 0; i < t.dbs.size(); i += 11)
        BOOST_TEST(t.versions(i) == "001", t.dbs[i] << " was left untouched");

    // kill -9 in the middle; the next fleet up carries on: every target has 002 exactly once.
    t.migration("002_more.sql", "INSERT INTO items VALUES (2);\nSELECT pg_sleep(0.05);\n");
    t.write_config("waves = [\"100%\"]\n");
    auto running = t.spawn({"fleet", "up", "-j", "2"});
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (t.versions(30) != "001,002" && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    BOOST_REQUIRE_MESSAGE(t.versions(30) == "001,002", "the fleet got 30 targets far");
    ::kill(running.pid, SIGKILL);
    auto killed = running.wait();
    BOOST_TEST(killed.term_signal == SIGKILL);
    BOOST_TEST(t.versions(199) == "001", "the kill came before the last target");
    auto again = t.ms({"--json", "fleet", "up", "-j", "4"});
    BOOST_REQUIRE_MESSAGE(again.exit_code == 0, again.out.substr(0, 2000) + again.err);
    auto carried = result_of(again, "fleet up");
    BOOST_TEST(carried["summary"].value("up to date", 0) >= 30, carried["summary"].dump());
    for (std::size_t i = 0; i < t.dbs.size(); ++i) {
        BOOST_TEST(t.scalar(i, "SELECT count(*) FROM items WHERE id = 2") == "1",
                   t.dbs[i] << " has the row of 002 exactly once");
        BOOST_TEST(t.versions(i) == "001,002", t.dbs[i]);
    }
}

BOOST_AUTO_TEST_CASE(hooks_hear_one_event_per_wave_not_one_per_tenant) {
    http_receiver slack;
    tenants t(6, "waves = [\"1\", \"50%\", \"100%\"]\n");
    t.write_config("waves = [\"1\", \"50%\", \"100%\"]\n",
                   "[notify.slack]\nwebhook_url = \"" + slack.url() + "/services/T0/B0/TOKEN\"\n");
    t.migration("001_items.sql", "CREATE TABLE items (id int PRIMARY KEY);\n");
    write_file(t.dir.path / "hooks" / "deploys.lua",
               "return {\n"
               "  ['fleet.wave.start'] = function(ev) print('WAVE ' .. ev.details.wave .. ' of ' "
               ".. ev.details.waves .. ': ' .. ev.details.count) end,\n"
               "  ['fleet.finish'] = function(ev) print('FLEET ' .. ev.outcome .. ' ' .. "
               "ev.details.summary.applied) end,\n"
               "  ['run.finish'] = function(ev) print('RUN ' .. ev.run.environment) end,\n"
               "}\n");
    auto r = t.ms({"fleet", "up"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "exit " << r.exit_code << " " << r.out + r.err);
    BOOST_TEST(has(r.out, "WAVE 1 of 3: 1"), r.out);
    BOOST_TEST(has(r.out, "WAVE 2 of 3: 2"), r.out);
    BOOST_TEST(has(r.out, "WAVE 3 of 3: 3"), r.out);
    BOOST_TEST(has(r.out, "FLEET ok 6"), r.out);
    BOOST_TEST(!has(r.out, "RUN "), "no hook hears a tenant's own run: " << r.out);
    std::size_t waves = 0;  // the hook's lines (the table's header says WAVE too)
    for (auto p = r.out.find("\nWAVE "); p != std::string::npos; p = r.out.find("\nWAVE ", p + 1))
        ++waves;
    BOOST_TEST(waves == 3u);
    // The built-in Slack hook: a message as each wave starts and one at the end, none per tenant.
    BOOST_REQUIRE(slack.wait_for(4, std::chrono::seconds(5)));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    BOOST_TEST(slack.request_count() == 4u);
    std::string bodies;
    for (const auto& rq : slack.requests()) bodies += rq.body + "\n";
    BOOST_TEST(has(bodies, "wave 1 of 3 starting on 1 target"), bodies);
    BOOST_TEST(has(bodies, "wave 3 of 3"), bodies);
    BOOST_TEST(has(bodies, "fleet up *tenants*: ok"), bodies);
}

BOOST_AUTO_TEST_CASE(a_bad_fleet_section_is_refused_naming_the_line_and_nothing_is_touched) {
    tenants t(2);
    t.migration("001_items.sql", "CREATE TABLE items (id int PRIMARY KEY);\n");
    struct bad_case {
        std::string settings, expect;
    };
    // [fleet.tenants] starts on line 8; server on 9, databases on 10, the setting on 11.
    std::vector<bad_case> cases = {
        {"wavez = [\"1\"]\n", "moonshift.toml:11: unknown key \"wavez\" in [fleet.tenants]"},
        {"waves = [\"0%\", \"100%\"]\n", "moonshift.toml:11: bad wave \"0%\""},
        {"waves = [\"abc\"]\n", "moonshift.toml:11: bad wave \"abc\""},
        {"waves = [\"1\", \"150%\"]\n", "moonshift.toml:11: bad wave \"150%\""},
        {"on_failure = \"shrug\"\n", "moonshift.toml:11: on_failure"},
    };
    for (const auto& c : cases) {
        t.write_config(c.settings);
        auto r = t.ms({"fleet", "up"});
        BOOST_TEST(r.exit_code == 2, c.settings << r.err);
        BOOST_TEST(has(r.err, c.expect), c.settings << " → " << r.err);
    }
    write_file(t.dir.path / "moonshift.toml",
               "[project]\nmigrations = \"migrations\"\n\n[fleet.empty]\nurls = []\n");
    auto empty = t.ms({"fleet", "up"});
    BOOST_TEST(empty.exit_code == 2);
    BOOST_TEST(has(empty.err, "moonshift.toml:5: [fleet.empty] is empty"), empty.err);
    t.write_config("");
    auto unknown = t.ms({"fleet", "up", "tenantz"});
    BOOST_TEST(unknown.exit_code == 2);
    BOOST_TEST(has(unknown.err, "fleet \"tenantz\" is not defined in moonshift.toml"), unknown.err);
    BOOST_TEST(has(unknown.err, "tenants"), unknown.err);
    for (std::size_t i = 0; i < t.dbs.size(); ++i)
        BOOST_TEST(t.versions(i) == "", "nothing was written to " << t.dbs[i]);
}

BOOST_AUTO_TEST_CASE(on_failure_rollback_puts_the_failed_wave_back) {
    tenants t(4, "waves = [\"2\", \"100%\"]\non_failure = \"rollback\"\n");
    t.migration("001_items.sql", "CREATE TABLE items (id int PRIMARY KEY);\n");
    auto first = t.ms({"fleet", "up"});
    BOOST_REQUIRE_MESSAGE(first.exit_code == 0,
                          "exit " << first.exit_code << " " << first.out + first.err);
    // Fails on the second target of the first wave, once the first has applied it.
    std::string second = "current_database() = '" + t.dbs[1] + "'";
    t.migration("002_notes.sql",
                "CREATE TABLE notes (id int PRIMARY KEY);\nSELECT pg_sleep(CASE WHEN " + second +
                    " THEN 0.5 ELSE 0 END);\nSELECT 1 / (NOT " + second + ")::int;\n");
    auto r = t.ms({"--json", "fleet", "up", "-j", "2"});
    BOOST_TEST(r.exit_code != 0);
    auto rep = result_of(r, "fleet up");
    BOOST_REQUIRE(rep.is_object());
    BOOST_TEST(rep["failed_target"] == t.dbs[1]);
    BOOST_TEST(rep["outcome"] == "rolled back");
    BOOST_TEST(rep["targets"][0]["outcome"] == "rolled back", rep.dump());
    BOOST_TEST(t.versions(0) == "001", "the canary's 002 was rolled back");
    BOOST_TEST(t.scalar(0, "SELECT to_regclass('notes') IS NULL") == "t");
    BOOST_TEST(t.versions(1) == "001");
    BOOST_TEST(t.versions(2) == "001", "the second wave never started");
}

BOOST_AUTO_TEST_CASE(targets_from_a_file_and_a_control_query_passwords_never_shown) {
    tenants t(3);
    t.migration("001_items.sql", "CREATE TABLE items (id int PRIMARY KEY);\n");
    write_file(t.dir.path / "tenants.txt", "# our tenants\n" + t.dbs[2] + "\n\n" + t.dbs[0] + "\n");
    write_file(t.dir.path / "moonshift.toml",
               "[project]\nmigrations = \"migrations\"\n\n[lint]\nexposed_schemas = [\"api\"]\n\n"
               "[fleet.listed]\nserver = \"" +
                   server_url() +
                   "\"\ntargets_file = \"tenants.txt\"\n\n"
                   "[fleet.queried]\ntargets_sql = \"SELECT d FROM (VALUES ('" +
                   t.dbs[1] +
                   "'), ('postgresql://deployer:s3cret-pw@127.0.0.1:1/gone')) v(d)\"\n"
                   "server = \"" +
                   server_url() + "\"\ncontrol_url = \"" + url_for(t.dbs[1]) + "\"\n");
    auto listed = t.ms({"--json", "fleet", "up", "listed"});
    BOOST_REQUIRE_MESSAGE(listed.exit_code == 0,
                          "exit " << listed.exit_code << " " << listed.out + listed.err);
    auto rep = result_of(listed, "fleet up");
    BOOST_REQUIRE(rep["targets"].size() == 2u);
    BOOST_TEST(rep["targets"][0]["target"] == t.dbs[2]);  // in the order of the file
    BOOST_TEST(t.versions(2) == "001");
    BOOST_TEST(t.versions(1) == "");
    auto st = t.ms({"fleet", "status", "queried"});
    BOOST_TEST(st.exit_code == 2, st.out + st.err);  // one target cannot be reached
    BOOST_TEST((has(st.out, "unreadable") || has(st.out, "gone")), st.out);
    BOOST_TEST(!has(st.out + st.err, "s3cret-pw"), st.out + st.err);
    auto sj = t.ms({"--json", "fleet", "status", "queried"});
    BOOST_TEST(!has(sj.out + sj.err, "s3cret-pw"));
}

BOOST_AUTO_TEST_CASE(down_rolls_every_target_back_wave_by_wave) {
    tenants t(5, "waves = [\"1\", \"100%\"]\n");
    t.migration("001_items.sql", "CREATE TABLE items (id int PRIMARY KEY);\n");
    t.migration("002_notes.sql", "CREATE TABLE notes (id int PRIMARY KEY);\n");
    t.migration("003_tags.sql", "CREATE TABLE tags (id int PRIMARY KEY);\n");
    auto up = t.ms({"fleet", "up", "-j", "2"});
    BOOST_REQUIRE_MESSAGE(up.exit_code == 0, "exit " << up.exit_code << " " << up.out + up.err);
    for (std::size_t i = 0; i < t.dbs.size(); ++i) BOOST_REQUIRE(t.versions(i) == "001,002,003");

    // Derived reverses (no down scripts): one step back everywhere, then back to 001.
    auto one = t.ms({"--json", "--yes", "fleet", "down", "--steps", "1", "-j", "2"});
    BOOST_REQUIRE_MESSAGE(one.exit_code == 0, "exit " << one.exit_code << " " << one.out + one.err);
    auto rep = result_of(one, "fleet down");
    BOOST_REQUIRE(rep.is_object());
    BOOST_TEST(rep["targets"].size() == t.dbs.size());
    BOOST_TEST(events_named(one, "fleet.wave.start").size() == 2u, one.out);
    for (std::size_t i = 0; i < t.dbs.size(); ++i) {
        BOOST_TEST(t.versions(i) == "001,002", t.dbs[i]);
        BOOST_TEST(t.scalar(i, "SELECT to_regclass('tags') IS NULL") == "t", t.dbs[i]);
    }
    auto to = t.ms({"--yes", "fleet", "down", "--to", "001"});
    BOOST_REQUIRE_MESSAGE(to.exit_code == 0, "exit " << to.exit_code << " " << to.out + to.err);
    for (std::size_t i = 0; i < t.dbs.size(); ++i) {
        BOOST_TEST(t.versions(i) == "001", t.dbs[i]);
        BOOST_TEST(t.scalar(i, "SELECT to_regclass('notes') IS NULL") == "t", t.dbs[i]);
    }
    // fleet status agrees: two pending everywhere.
    auto st = t.ms({"--json", "fleet", "status"});
    BOOST_TEST(st.exit_code == 0, st.out + st.err);
    auto s = result_of(st, "fleet status");
    BOOST_REQUIRE(s.is_object());
    for (auto& target : s["targets"])
        BOOST_TEST(target["summary"].value("pending", -1) == 2, target.dump());
}

BOOST_AUTO_TEST_CASE(progress_on_a_terminal_and_none_in_a_pipe,
                     *boost::unit_test::precondition(skip_unless(
                         [] { return std::filesystem::exists("/usr/bin/script"); },
                         "script(1) is not installed (util-linux): no terminal to show it on"))) {
    tenants t(4, "waves = [\"1\", \"100%\"]\n");
    t.migration("001_items.sql", "CREATE TABLE items (id int PRIMARY KEY);\n");
    // script(1) gives the command a terminal: the progress line is redrawn in place.
    std::string bin = MOONSHIFT_BIN;
    auto tty = run_program("/usr/bin/script",
                           {"-qec", bin + " --no-color fleet up -j 2", "/dev/null"}, t.dir.path);
    BOOST_REQUIRE_MESSAGE(tty.exit_code == 0, "exit " << tty.exit_code << " " << tty.out + tty.err);
    BOOST_TEST(has(tty.out, "\r\033[K"), tty.out);
    BOOST_TEST(has(tty.out, "wave 1/2 · 1/4 done"), tty.out);
    BOOST_TEST(has(tty.out, "4/4 done · 0 running · 0 failed · ETA 0 s"), tty.out);
    for (std::size_t i = 0; i < t.dbs.size(); ++i) BOOST_TEST(t.versions(i) == "001");
    // Through a pipe (CI logs): no progress line, only the report.
    t.migration("002_notes.sql", "CREATE TABLE notes (id int PRIMARY KEY);\n");
    auto piped = t.ms({"fleet", "up", "-j", "2"});
    BOOST_REQUIRE_MESSAGE(piped.exit_code == 0, piped.out + piped.err);
    BOOST_TEST(!has(piped.out, "\033[K"), piped.out);
    BOOST_TEST(!has(piped.out, "ETA"), piped.out);
}

BOOST_AUTO_TEST_CASE(plan_rehearses_once_per_distinct_state) {
    tenants t(3);
    t.migration("001_items.sql", "CREATE TABLE items (id int PRIMARY KEY);\n");
    BOOST_REQUIRE(t.ms({"fleet", "up"}).exit_code == 0);
    t.migration("002_notes.sql", "CREATE TABLE notes (id int PRIMARY KEY);\n");
    // One tenant ahead: two states, two rehearsals, nothing applied by either.
    BOOST_REQUIRE(t.ms({"up"}, {{"MOONSHIFT_URL", url_for(t.dbs[2])}}).exit_code == 0);
    auto r = t.ms({"--json", "fleet", "plan"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "exit " << r.exit_code << " " << r.out + r.err);
    nlohmann::json groups;
    for (auto& j : json_lines(r.out))
        if (j.value("result", "") == "fleet plan") groups = j["groups"];
    BOOST_REQUIRE(groups.size() == 2u);
    BOOST_TEST(groups[0]["targets"] == 2);
    BOOST_TEST(groups[0]["first"] == t.dbs[0]);
    BOOST_TEST(groups[0]["pending"] == 1);
    BOOST_TEST(groups[1]["targets"] == 1);
    BOOST_TEST(groups[1]["pending"] == 0);
    BOOST_TEST(t.versions(0) == "001", "plan changed nothing");
}

BOOST_AUTO_TEST_SUITE_END()
