// `moonshift dashboard`: three environments of one project (three databases of the test server)
// read through a role that may only SELECT the moonshift schema, served on 127.0.0.1 and drawn by
// a real headless Chromium: versions, an unverified and a pending migration, a failed run's
// error, no password anywhere; `--out` writes the same data; SIGTERM stops it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "net/http.hpp"
#include "support/harness.hpp"
#include "support/skip.hpp"
#include "support/stages.hpp"

using namespace moonshift::test;
namespace fs = std::filesystem;

namespace {

const std::string chromium_bin = "/usr/bin/chromium";
const std::string ro_password = "dash-s3cret-pw";
const std::string broken_password = "broken-s3cret-pw";

bool has(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

bool no_password(const std::string& text) {
    return !has(text, ro_password) && !has(text, broken_password);
}

// The role is server-wide: dropped after the databases that granted it something are gone.
struct role_guard {
    std::string name;
    ~role_guard() {
        if (name.empty()) return;
        try {
            run_sql(server_url(), "DROP ROLE IF EXISTS " + name);
        } catch (const std::exception& e) {
            BOOST_TEST_MESSAGE("could not drop role " << name << ": " << e.what());
        }
    }
};

// dev at 003 (003 applied, not verified); staging at 002, its `up` of 003 failed (the table
// already existed there), so 003 is pending with a failed last run; production at 001 with 002
// and 003 pending. Then moonshift.toml reads all three as a role with SELECT and USAGE on the
// moonshift schema only, with its password in the URL, beside an environment nobody can reach.
struct three_envs {
    role_guard ro;  // first: destroyed last
    fresh_db dev, staging, production;
    temp_dir dir;

    three_envs() {
        write_config(false);
        migration("001_users.sql", "CREATE TABLE users (id int PRIMARY KEY);\n");
        BOOST_REQUIRE(ms({"--env", "production", "up"}).exit_code == 0);
        migration("002_notes.sql", "CREATE TABLE notes (id int PRIMARY KEY);\n");
        BOOST_REQUIRE(ms({"--env", "staging", "up"}).exit_code == 0);
        migration("003_orders.sql", "CREATE TABLE orders (id int PRIMARY KEY);\n");
        BOOST_REQUIRE(ms({"--env", "dev", "up"}).exit_code == 0);
        run_sql(dev.url,
                "UPDATE moonshift.migrations SET verified_at = NULL WHERE version = '003'");
        run_sql(staging.url, "CREATE TABLE orders (id int)");
        auto failed = ms({"--env", "staging", "up"});
        BOOST_REQUIRE_MESSAGE(failed.exit_code == 1, failed.out + failed.err);
        ro.name = "ms_dash_" + dev.name.substr(dev.name.find("test_") + 5);
        run_sql(server_url(), "CREATE ROLE " + ro.name + " LOGIN PASSWORD '" + ro_password + "'");
        for (const fresh_db* d : {&dev, &staging, &production})
            run_sql(d->url, "GRANT CONNECT ON DATABASE " + d->name + " TO " + ro.name +
                                "; GRANT USAGE ON SCHEMA moonshift TO " + ro.name +
                                "; GRANT SELECT ON ALL TABLES IN SCHEMA moonshift TO " + ro.name);
        write_config(true);
    }

    void write_config(bool read_only) const {
        auto url = [&](const fresh_db& d) {
            return read_only ? url_as_role(d.url, ro.name, ro_password) : d.url;
        };
        std::string text = "[project]\nmigrations = \"migrations\"\n";
        for (auto [name, db] : {std::pair<const char*, const fresh_db*>{"dev", &dev},
                                {"staging", &staging},
                                {"production", &production}})
            text += std::string("\n[env.") + name + "]\nurl = \"" + url(*db) +
                    "\"\nlock_wait = \"2s\"\n";
        if (read_only) {
            text += "\n[env.broken]\nurl = \"postgresql://deployer:" + broken_password +
                    "@127.0.0.1:1/app\"\n";
            // The same three databases and the unreachable one as a fleet's targets.
            text += "\n[fleet.tenants]\nurls = [\"" + url(dev) + "\", \"" + url(staging) +
                    "\", \"" + url(production) + "\", \"postgresql://deployer:" + broken_password +
                    "@127.0.0.1:1/tenant_x\"]\n";
        }
        write_file(dir.path / "moonshift.toml", text);
    }
    void migration(const std::string& file, const std::string& sql) const {
        write_file(dir.path / "migrations" / file, sql);
    }
    cli_result ms(std::vector<std::string> args) const {
        args.insert(args.begin(), "--no-color");
        return run_cli(args, dir.path);
    }
};

// Reads the child's stdout until a line holds `needle` (the dashboard's address).
std::string read_until(child& c, const std::string& needle, std::string& seen) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
        if (auto at = seen.find(needle); at != std::string::npos) {
            auto end = seen.find('\n', at);
            if (end != std::string::npos) return seen.substr(at, end - at);
        }
        pollfd p{c.out_fd, POLLIN, 0};
        if (::poll(&p, 1, 200) > 0) {
            char buf[4096];
            auto n = ::read(c.out_fd, buf, sizeof buf);
            if (n <= 0) break;
            seen.append(buf, std::size_t(n));
        }
    }
    return "";
}

moonshift::net::http_response get(const std::string& url, const std::string& host = "") {
    moonshift::net::http_request rq;
    rq.url = url;
    rq.retries = 0;
    rq.accept_any_status = true;
    if (!host.empty()) rq.headers.push_back({"Host", host});
    return moonshift::net::send(rq);
}

nlohmann::json env_named(const nlohmann::json& data, const std::string& name) {
    for (const auto& e : data["environments"])
        if (e["environment"] == name) return e;
    return nullptr;
}

// The addresses listening on port (from /proc/net/tcp and tcp6, as hex): "0100007F" is
// 127.0.0.1.
std::vector<std::string> listeners(int port) {
    std::vector<std::string> out;
    for (const char* file : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream in(file);
        std::string line;
        std::getline(in, line);  // the header
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::string slot, local, remote, state;
            fields >> slot >> local >> remote >> state;
            auto colon = local.rfind(':');
            if (state == "0A" && std::stoi(local.substr(colon + 1), nullptr, 16) == port)
                out.push_back(local.substr(0, colon));
        }
    }
    return out;
}

// A headless Chromium run as the issue describes it, in a fresh profile; its stdout.
std::string chromium(const std::vector<std::string>& extra, const temp_dir& profile) {
    std::vector<std::string> args = {"--headless",
                                     "--no-sandbox",
                                     "--disable-gpu",
                                     "--disable-quic",
                                     "--no-first-run",
                                     "--disable-background-networking",
                                     "--disable-component-update",
                                     "--disable-sync",
                                     "--disable-dev-shm-usage",
                                     "--user-data-dir=" + profile.path.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run_program(chromium_bin, args, profile.path, {}, std::chrono::seconds(120));
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "chromium exited " << r.exit_code << ": " << r.err);
    return r.out;
}

nlohmann::json without_time(nlohmann::json j) {
    j.erase("generated_at");
    return j;
}

// What the page must show of the three environments, whichever way it was loaded.
void check_overview_dom(const std::string& dom) {
    BOOST_TEST(has(dom, "data-ready=\"true\""), "the page's script did not finish:\n" << dom);
    for (const char* env : {"dev", "staging", "production", "broken"})
        BOOST_TEST(has(dom, std::string("data-env=\"") + env + "\""), env << " missing:\n" << dom);
    BOOST_TEST(has(dom, "data-head=\"003\""), dom);  // dev
    BOOST_TEST(has(dom, "data-head=\"002\""), dom);  // staging
    BOOST_TEST(has(dom, "data-head=\"001\""), dom);  // production
    BOOST_TEST(has(dom, "data-list=\"unverified\""), dom);
    BOOST_TEST(has(dom, "data-list=\"pending\""), dom);
    BOOST_TEST(has(dom, "003_orders"), dom);
    BOOST_TEST(has(dom, "already exists"), "the failed run's error is not shown:\n" << dom);
    BOOST_TEST(has(dom, "data-reachable=\"false\""), dom);  // broken, shown as such
    BOOST_TEST(has(dom, "data-fleet=\"tenants\""), dom);
    BOOST_TEST(has(dom, "4 targets"), dom);
    BOOST_TEST(no_password(dom), "a password is on the page:\n" << dom);
}

bool have_chromium() { return ::access(chromium_bin.c_str(), X_OK) == 0; }

}  // namespace

BOOST_AUTO_TEST_SUITE(dashboard)

BOOST_FIXTURE_TEST_CASE(the_data_has_every_environment_read_only_and_no_password, three_envs) {
    // The role of moonshift.toml now cannot write: `up` is refused and production stays at 001.
    auto refused = ms({"--env", "production", "up"});
    BOOST_TEST(refused.exit_code != 0, refused.out + refused.err);
    BOOST_TEST(no_password(refused.out + refused.err), refused.out + refused.err);

    auto c = spawn_cli({"--no-color", "dashboard", "--port", "0"}, dir.path);
    std::string seen;
    auto line = read_until(c, "http://127.0.0.1:", seen);
    BOOST_REQUIRE_MESSAGE(!line.empty(), "no address printed: " << seen);
    auto base = line.substr(0, line.find('/', 7) + 1);
    int port = std::stoi(base.substr(base.rfind(':') + 1));

    auto r = get(base + "api/dashboard.json");
    BOOST_REQUIRE_EQUAL(r.status, 200);
    BOOST_TEST(r.header("content-type") == "application/json");
    BOOST_TEST(no_password(r.body), r.body);
    auto data = nlohmann::json::parse(r.body);
    auto d = env_named(data, "dev"), s = env_named(data, "staging"),
         p = env_named(data, "production"), b = env_named(data, "broken");
    BOOST_REQUIRE(d.is_object() && s.is_object() && p.is_object() && b.is_object());
    BOOST_TEST(!d.contains("error"), d.dump());  // the read-only role reads everything
    BOOST_TEST(d["head"] == "003");
    BOOST_TEST(d["summary"]["unverified"] == 1);
    BOOST_TEST(s["head"] == "002");
    BOOST_TEST(s["summary"]["pending"] == 1);
    BOOST_TEST(s["last_run"]["outcome"] == "failed");
    BOOST_TEST(has(s["last_run"].value("error", ""), "already exists"), s["last_run"].dump());
    BOOST_TEST(!s["runs"].empty());
    BOOST_TEST(has(s["runs"][0].value("report_markdown", ""), "already exists"));
    BOOST_TEST(p["head"] == "001");
    BOOST_TEST(p["summary"]["pending"] == 2);
    BOOST_TEST(b.contains("error"));  // unreachable: named, not a crash
    // The fleet: each target read like an environment.
    BOOST_REQUIRE(data.contains("fleets"));
    auto f = data["fleets"][0];
    BOOST_TEST(f["fleet"] == "tenants");
    BOOST_TEST(f["summary"]["targets"] == 4, f.dump());
    BOOST_TEST(f["summary"]["at_head"] == 1, f.dump());          // dev
    BOOST_TEST(f["summary"]["pending"] == 2, f.dump());          // staging, production
    BOOST_TEST(f["summary"]["unreachable"] == 1, f.dump());      // tenant_x
    BOOST_TEST(f["summary"]["last_run_failed"] == 1, f.dump());  // staging
    BOOST_TEST(f["targets"][1]["head"] == "002", f.dump());

    // Listening on 127.0.0.1 only, and answering only requests addressed to it.
    auto where = listeners(port);
    BOOST_TEST(where.size() == 1u);
    BOOST_TEST((where.size() == 1 && where[0] == "0100007F"), "listening on " << where.size());
    BOOST_TEST(
        get(base + "api/dashboard.json", "attacker.example:" + std::to_string(port)).status == 403);
    BOOST_TEST(get(base + "nothing-here").status == 404);

    // --out writes the same data, in the page and beside it.
    temp_dir out;
    auto w = run_cli({"--no-color", "dashboard", "--out", out.path.string()}, dir.path);
    BOOST_REQUIRE_MESSAGE(w.exit_code == 0, w.out + w.err);
    auto written = nlohmann::json::parse(read_file(out.path / "dashboard.json"));
    BOOST_TEST(without_time(written) == without_time(data), "--out differs from the served data:\n"
                                                                << written.dump() << "\n"
                                                                << data.dump());
    auto page = read_file(out.path / "index.html");
    BOOST_TEST(has(page, "id=\"moonshift-data\""));
    for (const char* f : {"index.html", "dashboard.json", "app.js", "style.css"})
        BOOST_TEST(no_password(read_file(out.path / f)), f);

    // A new file on disk shows as pending at the next reading (one reading is shared by the
    // polls of the same few seconds, half the refresh interval: 2.5 s here).
    write_file(dir.path / "migrations" / "004_tags.sql", "CREATE TABLE tags (id int);\n");
    std::this_thread::sleep_for(std::chrono::seconds(3));
    auto again = nlohmann::json::parse(get(base + "api/dashboard.json").body);
    BOOST_TEST(env_named(again, "production")["summary"]["pending"] == 3);

    // SIGTERM stops it cleanly.
    ::kill(c.pid, SIGTERM);
    auto done = c.wait();
    BOOST_TEST(done.exit_code == 0, done.out + done.err);
    BOOST_TEST(has(seen + done.out, "Dashboard stopped."), seen + done.out);
    BOOST_TEST(no_password(seen + done.out + done.err + w.out + w.err));
}

BOOST_FIXTURE_TEST_CASE(a_browser_shows_every_environment, three_envs,
                        *boost::unit_test::precondition(skip_unless(
                            have_chromium,
                            "chromium is not installed (tools/install-deps installs it)"))) {
    auto c = spawn_cli({"--no-color", "dashboard", "--port", "0", "--refresh", "2"}, dir.path);
    std::string seen;
    auto line = read_until(c, "http://127.0.0.1:", seen);
    BOOST_REQUIRE_MESSAGE(!line.empty(), "no address printed: " << seen);
    auto base = line.substr(0, line.find('/', 7) + 1);

    temp_dir profile;
    auto dom = chromium({"--virtual-time-budget=7000", "--dump-dom", base}, profile);
    check_overview_dom(dom);
    // It refreshes by itself: more than one reading arrived within the time given.
    auto polls = dom.find("data-polls=\"");
    BOOST_REQUIRE(polls != std::string::npos);
    BOOST_TEST(std::stoi(dom.substr(polls + 12)) >= 2, dom.substr(polls, 20));

    // The drill-down: staging's history with the failed run, its report, its migrations.
    temp_dir profile2;
    auto staging =
        chromium({"--virtual-time-budget=5000", "--dump-dom", base + "#env/staging"}, profile2);
    BOOST_TEST(has(staging, "data-outcome=\"failed\""), staging);
    BOOST_TEST(has(staging, "data-report="), staging);
    BOOST_TEST(has(staging, "data-migration=\"003\" data-state=\"pending\""), staging);
    BOOST_TEST(no_password(staging));

    // A screenshot for people to look at, beside the binary in the build directory.
    auto shot = fs::path(MOONSHIFT_BIN).parent_path() / "dashboard.png";
    fs::remove(shot);
    temp_dir profile3;
    chromium({"--virtual-time-budget=5000", "--window-size=1400,900",
              "--screenshot=" + shot.string(), base},
             profile3);
    BOOST_TEST(fs::exists(shot));
    BOOST_TEST((fs::exists(shot) && fs::file_size(shot) > 1000));

    // The static copy draws the same page from disk.
    temp_dir out;
    auto w = run_cli({"--no-color", "dashboard", "--out", out.path.string()}, dir.path);
    BOOST_REQUIRE_MESSAGE(w.exit_code == 0, w.out + w.err);
    temp_dir profile4;
    check_overview_dom(chromium({"--virtual-time-budget=5000", "--dump-dom",
                                 "file://" + (out.path / "index.html").string()},
                                profile4));

    ::kill(c.pid, SIGTERM);
    auto done = c.wait();
    BOOST_TEST(done.exit_code == 0, done.out + done.err);
}

BOOST_AUTO_TEST_CASE(bad_options_are_usage_errors) {
    temp_dir dir;
    write_file(dir.path / "moonshift.toml",
               "[project]\nmigrations = \"migrations\"\n\n[env.dev]\n"
               "url = \"postgresql://127.0.0.1:1/x\"\n");
    auto env = run_cli({"--env", "dev", "dashboard"}, dir.path);
    BOOST_TEST(env.exit_code == 2, env.out + env.err);
    BOOST_TEST(has(env.err, "every environment"), env.err);
    auto port = run_cli({"dashboard", "--port", "70000"}, dir.path);
    BOOST_TEST(port.exit_code == 2, port.out + port.err);
    // A port in use: said so, exit 2.
    int taken = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    BOOST_REQUIRE(::bind(taken, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    BOOST_REQUIRE(::listen(taken, 1) == 0);
    BOOST_REQUIRE(::getsockname(taken, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    auto busy = run_cli({"dashboard", "--port", std::to_string(ntohs(a.sin_port))}, dir.path);
    ::close(taken);
    BOOST_TEST(busy.exit_code == 2, busy.out + busy.err);
    BOOST_TEST(has(busy.err, "cannot listen on 127.0.0.1:"), busy.err);
    write_file(dir.path / "moonshift.toml", "[project]\nmigrations = \"migrations\"\n");
    auto none = run_cli({"dashboard", "--out", (dir.path / "o").string()}, dir.path);
    BOOST_TEST(none.exit_code == 2, none.out + none.err);
    BOOST_TEST(has(none.err, "no environments"), none.err);
    BOOST_TEST(!fs::exists(dir.path / "o"));
}

BOOST_AUTO_TEST_SUITE_END()
