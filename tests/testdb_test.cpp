// `moonshift testdb`: the first call migrates a template and clones it; later
// calls clone the same template without running a migration; changed
// migrations make a new template and drop the old; eight processes at once
// share one template; drop and prune; a role without CREATEDB; no password
// in the output; the pool of spares: a later call claims one by a rename,
// a detached refill makes them again and exits, a changed migration drops
// the old template's, `spares = 0` clones as before. Every database a test
// makes is dropped at its end.
#include "engine/testdb.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "support/project.hpp"

using namespace moonshift::test;

namespace {

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

std::string admin_scalar(const std::string& sql, const std::string& arg) {
    pqxx::connection c(server_url());
    pqxx::nontransaction tx(c);
    auto r = tx.exec_params(sql, arg);
    return r.empty() || r[0][0].is_null() ? "" : r[0][0].c_str();
}

std::string scalar_in(const std::string& db, const std::string& sql) {
    pqxx::connection c(url_for(db));
    pqxx::nontransaction tx(c);
    auto r = tx.exec(sql);
    return r.empty() || r[0][0].is_null() ? "" : r[0][0].c_str();
}

// Polls `done` until it holds or `bound` passes (a generous bound: refills
// clone on a shared machine); returns whether it held.
bool wait_until(const std::function<bool()>& done,
                std::chrono::seconds bound = std::chrono::seconds(90)) {
    auto until = std::chrono::steady_clock::now() + bound;
    while (!done()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return true;
}

// A project whose role has a password of its own (so that a leak is visible)
// and CREATEDB; at the end every database testdb made for it and the role go.
struct testdb_project : project {
    std::string role = "ms_testdb_" + name;
    std::string password = "tdb-Secret-" + name.substr(name.size() - 6);
    std::string role_url = url_as_role(url, role, password);

    explicit testdb_project(bool createdb = true, const std::string& extra_toml = "")
        : project(extra_toml) {
        run_sql(url, "CREATE ROLE " + role + " LOGIN PASSWORD '" + password + "'" +
                         (createdb ? " CREATEDB" : ""));
        run_sql(url, "GRANT ALL ON DATABASE " + name + " TO " + role);
        run_sql(url, "GRANT ALL ON SCHEMA public TO " + role);
        migration("001_users.sql", "CREATE TABLE users (id int PRIMARY KEY, name text);\n");
        migration("002_posts.sql",
                  "CREATE TABLE posts (id int PRIMARY KEY, user_id int REFERENCES users);\n");
    }
    ~testdb_project() {
        try {
            // The refills its calls started end by themselves (bounded).
            if (!wait_until([this] { return processes_with_url() == 0; }))
                BOOST_TEST_MESSAGE("a refill of " << name << " is still running");
            // Templates first (no spare is made of a template once it is
            // gone), then the rest: a spare a refill was making is there now.
            for (bool templates_only : {true, false})
                for (const auto& db : listed([templates_only](const auto& p) {
                         return p.is_template || !templates_only;
                     })) {
                    run_sql(server_url(), "ALTER DATABASE \"" + db + "\" WITH IS_TEMPLATE false");
                    run_sql(server_url(), "DROP DATABASE \"" + db + "\" WITH (FORCE)");
                }
            run_sql(url, "DROP OWNED BY " + role);
            run_sql(server_url(), "DROP ROLE " + role);
        } catch (const std::exception& e) {
            BOOST_TEST_MESSAGE("could not clean up after " << name << ": " << e.what());
        }
    }
    // The project's slug as testdb names it (its folder).
    std::string slug() const {
        moonshift::project::config cfg;
        cfg.root = dir.path;
        return moonshift::testdb::project_slug(cfg, {});
    }
    // The databases on the server whose name testdb made for this project
    // and that `keep` accepts.
    std::vector<std::string> listed(
        const std::function<bool(const moonshift::testdb::parsed_name&)>& keep) const {
        std::vector<std::string> out;
        pqxx::connection c(server_url());
        pqxx::nontransaction tx(c);
        for (auto row : tx.exec("SELECT datname FROM pg_database ORDER BY 1")) {
            auto p = moonshift::testdb::parse_name(row[0].c_str());
            if (p && p->project == slug() && keep(*p)) out.push_back(row[0].c_str());
        }
        return out;
    }
    // Its templates and test databases (spares apart).
    std::vector<std::string> ours(bool templates_only = false) const {
        return listed([templates_only](const auto& p) {
            return !p.is_spare && (p.is_template || !templates_only);
        });
    }
    // The spares of template `tpl`.
    std::vector<std::string> spares(const std::string& tpl) const {
        return listed([&tpl](const auto& p) {
            return p.is_spare && moonshift::testdb::template_of_spare(p) == tpl;
        });
    }
    // Processes that carry this project's URL: the calls' detached refills
    // (before and after their exec) — the test process passes it only to children.
    int processes_with_url() const {
        int n = 0;
        const std::string needle = "MOONSHIFT_URL=" + role_url + std::string(1, '\0');
        for (const auto& e : std::filesystem::directory_iterator("/proc")) {
            auto pid = e.path().filename().string();
            if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
            std::ifstream in(e.path() / "environ", std::ios::binary);
            std::string env((std::istreambuf_iterator<char>(in)), {});
            if (env.find(needle) != std::string::npos) ++n;
        }
        return n;
    }
    cli_result testdb(std::vector<std::string> args = {}) const {
        // The URL, password and all, by environment: never on a command line.
        args.insert(args.begin(), "testdb");
        return ms(args, {{"MOONSHIFT_URL", role_url}});
    }
    nlohmann::json made(std::vector<std::string> args = {}) const {
        args.push_back("--json");
        auto r = testdb(args);
        BOOST_TEST_INFO(r.out << r.err);
        BOOST_REQUIRE_EQUAL(r.exit_code, 0);
        BOOST_TEST(!contains(r.out + r.err, password), "the password stays out of the output");
        return last_json(r.out);
    }
};

// When the template's one `up` run started, as every clone of it recorded it.
std::string up_run_of(const std::string& db) {
    return scalar_in(db,
                     "SELECT string_agg(started_at::text, ',') FROM moonshift.runs "
                     "WHERE command = 'up'");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(testdb)

BOOST_FIXTURE_TEST_CASE(the_first_call_builds_a_template_and_hands_out_a_database_at_head,
                        testdb_project) {
    auto j = made();
    std::string db = j["database"];
    BOOST_TEST(j["template_built"] == true);
    BOOST_TEST(j["migrations"] == 2);
    BOOST_TEST(contains(db, "moonshift_test_" + slug() + "_"), db);
    std::string tpl = j["template"];
    BOOST_TEST(contains(tpl, "moonshift_tpl_" + slug() + "_"), tpl);
    BOOST_TEST(scalar_in(db, "SELECT to_regclass('posts') IS NOT NULL") == "t");
    BOOST_TEST(scalar_in(db,
                         "SELECT string_agg(version, ',' ORDER BY version) FROM "
                         "moonshift.migrations") == "001,002");
    BOOST_TEST(admin_scalar("SELECT datistemplate::text || ' ' || datallowconn::text FROM "
                            "pg_database WHERE datname = $1",
                            tpl) == "true false",
               "marked a template nobody may connect to");
    BOOST_TEST(admin_scalar("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1",
                            db) == role);
    // The URL is the environment's, with the new database and without the password.
    std::string shown = j["url"];
    BOOST_TEST(contains(shown, "/" + db), shown);
    BOOST_TEST(j["password_omitted"] == true);
    // The suite brings the password (PGPASSWORD, ~/.pgpass, or as here).
    pqxx::connection c(shown + (contains(shown, "?") ? "&" : "?") + "password=" + password);
    BOOST_TEST(pqxx::nontransaction(c).exec1("SELECT current_database()")[0].c_str() == db);
}

BOOST_FIXTURE_TEST_CASE(later_calls_clone_the_same_template_without_migrating, testdb_project) {
    auto first = made();
    auto tpl_oid = admin_scalar("SELECT oid FROM pg_database WHERE datname = $1",
                                first["template"].get<std::string>());
    auto second = testdb();  // the plain form: the URL alone on stdout
    BOOST_TEST_INFO(second.out << second.err);
    BOOST_REQUIRE_EQUAL(second.exit_code, 0);
    BOOST_TEST(!contains(second.out + second.err, password));
    std::string url = second.out.substr(0, second.out.find('\n'));
    BOOST_TEST(second.out == url + "\n", "stdout is the URL and nothing else");
    BOOST_TEST(second.err.empty(), second.err);
    auto db = moonshift::db::database_of(url);
    BOOST_TEST(db != first["database"].get<std::string>());
    BOOST_TEST(admin_scalar("SELECT oid FROM pg_database WHERE datname = $1",
                            first["template"].get<std::string>()) == tpl_oid,
               "the same template, not one built again");
    BOOST_TEST(up_run_of(db) == up_run_of(first["database"].get<std::string>()),
               "both carry the template's one up run: no migration ran again");
    BOOST_TEST(ours(true).size() == 1u);
    auto third = made();
    BOOST_TEST(third["template_built"] == false);
    BOOST_TEST(third["template"] == first["template"]);
}

BOOST_FIXTURE_TEST_CASE(changed_migrations_make_a_new_template_and_drop_the_old, testdb_project) {
    auto first = made();
    migration(
        "002_posts.sql",
        "CREATE TABLE posts (id int PRIMARY KEY, user_id int REFERENCES users, body text);\n");
    auto second = made();
    BOOST_TEST(second["template_built"] == true);
    BOOST_TEST(second["template"] != first["template"]);
    BOOST_TEST(second["dropped_templates"] == nlohmann::json::array({first["template"]}));
    BOOST_TEST(ours(true) == std::vector<std::string>{second["template"].get<std::string>()});
    BOOST_TEST(scalar_in(second["database"].get<std::string>(),
                         "SELECT count(*) FROM information_schema.columns "
                         "WHERE table_name = 'posts' AND column_name = "
                         "'body'") == "1");
    // The database cloned before the change stays for its test.
    BOOST_TEST(scalar_in(first["database"].get<std::string>(),
                         "SELECT to_regclass('posts') IS NOT NULL") == "t");
}

BOOST_FIXTURE_TEST_CASE(eight_processes_at_once_share_one_template, testdb_project) {
    std::vector<child> children;
    for (int i = 0; i < 8; ++i)
        children.push_back(spawn({"testdb", "--json"}, {{"MOONSHIFT_URL", role_url}}));
    std::set<std::string> dbs, templates;
    int built = 0;
    for (auto& ch : children) {
        auto r = ch.wait();
        BOOST_TEST_INFO(r.out << r.err);
        BOOST_REQUIRE_EQUAL(r.exit_code, 0);
        BOOST_TEST(!contains(r.out + r.err, password));
        auto j = last_json(r.out);
        dbs.insert(j["database"].get<std::string>());
        templates.insert(j["template"].get<std::string>());
        built += j["template_built"].get<bool>() ? 1 : 0;
    }
    BOOST_TEST(dbs.size() == 8u, "eight distinct databases");
    BOOST_TEST(templates.size() == 1u);
    BOOST_TEST(built == 1, "one process built the template, seven waited for it");
    BOOST_TEST(ours(true).size() == 1u);
    std::set<std::string> runs;
    for (const auto& db : dbs) runs.insert(up_run_of(db));
    BOOST_TEST(runs.size() == 1u, "every database comes from the one up run");
}

BOOST_FIXTURE_TEST_CASE(drop_removes_a_test_database_and_refuses_any_other, testdb_project) {
    auto a = made(), b = made();
    auto r = testdb({"drop", a["url"].get<std::string>()});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(contains(r.out, "Dropped " + a["database"].get<std::string>()));
    r = testdb({"drop", b["database"].get<std::string>()});
    BOOST_TEST(r.exit_code == 0, r.out << r.err);
    BOOST_TEST(ours() == std::vector<std::string>{a["template"].get<std::string>()});
    r = testdb({"drop", b["database"].get<std::string>(), "--json"});
    BOOST_TEST(r.exit_code == 0, "dropping what is gone is not an error");
    BOOST_TEST(last_json(r.out)["dropped"] == false);
    // Not testdb's: refused with exit 2, nothing dropped.
    for (const std::string& other : {name, a["template"].get<std::string>(), std::string("x")}) {
        r = testdb({"drop", other});
        BOOST_TEST(r.exit_code == 2, other << ": " << r.out << r.err);
        BOOST_TEST(contains(r.err, "is not a database testdb made"), r.err);
    }
    BOOST_TEST(admin_scalar("SELECT count(*) FROM pg_database WHERE datname = $1", name) == "1");
    BOOST_TEST(ours(true).size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(prune_drops_old_test_databases_and_leaves_kept_ones, testdb_project) {
    auto plain = made(), kept = made({"--keep"});
    BOOST_TEST(contains(kept["database"].get<std::string>(), "moonshift_keep_"));
    auto r = testdb({"prune"});  // default: older than 60 minutes, none is
    BOOST_TEST(r.exit_code == 0, r.out << r.err);
    BOOST_TEST(ours().size() == 3u);
    r = testdb({"prune", "--older-than", "0", "--json"});
    BOOST_TEST(r.exit_code == 0, r.out << r.err);
    BOOST_TEST(last_json(r.out)["dropped"] == nlohmann::json::array({plain["database"]}));
    r = testdb({"prune", "--older-than", "0", "--kept", "--templates"});
    BOOST_TEST(r.exit_code == 0, r.out << r.err);
    BOOST_TEST(ours().empty(), "kept databases and templates go when asked");
}

BOOST_FIXTURE_TEST_CASE(seeds_go_into_their_own_template, testdb_project) {
    write_file(dir.path / "seeds" / "001_users.sql", "INSERT INTO users VALUES (1, 'ada');\n");
    auto plain = made(), seeded = made({"--seed"});
    BOOST_TEST(seeded["template"] != plain["template"]);
    BOOST_TEST(scalar_in(seeded["database"].get<std::string>(), "SELECT name FROM users") == "ada");
    BOOST_TEST(scalar_in(plain["database"].get<std::string>(), "SELECT count(*) FROM users") ==
               "0");
    // One template of each kind: alternating calls do not rebuild.
    BOOST_TEST(ours(true).size() == 2u);
    BOOST_TEST(made()["template_built"] == false);
    BOOST_TEST(made({"--seed"})["template_built"] == false);
    // Changed seeds: a new seeded template, the old seeded one dropped, the plain one kept.
    write_file(dir.path / "seeds" / "001_users.sql", "INSERT INTO users VALUES (2, 'grace');\n");
    auto reseeded = made({"--seed"});
    BOOST_TEST(reseeded["dropped_templates"] == nlohmann::json::array({seeded["template"]}));
    BOOST_TEST(ours(true).size() == 2u);
    BOOST_TEST(scalar_in(reseeded["database"].get<std::string>(), "SELECT name FROM users") ==
               "grace");
}

BOOST_FIXTURE_TEST_CASE(a_later_call_claims_a_spare_and_the_pool_refills, testdb_project) {
    auto first = made();
    std::string tpl = first["template"];
    BOOST_TEST(first["spare_claimed"] == false, "nothing to claim before the template");
    BOOST_REQUIRE_MESSAGE(wait_until([&] { return spares(tpl).size() == 2u; }),
                          "the refill made the two spares (default [testdb] spares = 2)");
    auto before = spares(tpl);
    std::set<std::string> spare_oids;
    for (const auto& sp : before)
        spare_oids.insert(admin_scalar("SELECT oid FROM pg_database WHERE datname = $1", sp));
    auto second = made();
    std::string db = second["database"];
    BOOST_TEST(second["spare_claimed"] == true);
    BOOST_TEST(second["template_built"] == false);
    BOOST_TEST(contains(db, "moonshift_test_" + slug() + "_"), db);
    BOOST_TEST(spare_oids.count(admin_scalar("SELECT oid FROM pg_database WHERE datname = $1", db)),
               "the database handed out is a spare, renamed");
    int still = 0;
    for (const auto& sp : before)
        still += admin_scalar(
                     "SELECT count(*) FROM pg_database "
                     "WHERE datname = $1",
                     sp) == "1";
    BOOST_TEST(still == 1, "the pool shrank by the one claimed");
    // At head, with the template's history, owned by the role like a clone.
    BOOST_TEST(scalar_in(db, "SELECT to_regclass('posts') IS NOT NULL") == "t");
    BOOST_TEST(scalar_in(db,
                         "SELECT string_agg(version, ',' ORDER BY version) FROM "
                         "moonshift.migrations") == "001,002");
    BOOST_TEST(up_run_of(db) == up_run_of(first["database"].get<std::string>()));
    BOOST_TEST(admin_scalar("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1",
                            db) == role);
    BOOST_TEST(wait_until([&] { return spares(tpl).size() == 2u; }), "refilled to two");
    // The plain form claims too, and says nothing more.
    auto third = testdb();
    BOOST_TEST(third.exit_code == 0, third.out << third.err);
    BOOST_TEST(third.err.empty(), third.err);
    BOOST_TEST(third.out.find('\n') == third.out.size() - 1, "stdout is the URL alone");
    BOOST_TEST(contains(third.out, "/moonshift_test_" + slug() + "_"), third.out);
}

BOOST_FIXTURE_TEST_CASE(eight_concurrent_calls_get_eight_databases_and_the_pool_ends_full,
                        testdb_project) {
    std::string tpl = made()["template"];
    BOOST_REQUIRE(wait_until([&] { return spares(tpl).size() == 2u; }));
    std::vector<child> children;
    for (int i = 0; i < 8; ++i)
        children.push_back(spawn({"testdb", "--json"}, {{"MOONSHIFT_URL", role_url}}));
    std::set<std::string> dbs;
    int claimed = 0;
    for (auto& ch : children) {
        auto r = ch.wait();
        BOOST_TEST_INFO(r.out << r.err);
        BOOST_REQUIRE_EQUAL(r.exit_code, 0);
        auto j = last_json(r.out);
        dbs.insert(j["database"].get<std::string>());
        claimed += j["spare_claimed"].get<bool>() ? 1 : 0;
        BOOST_TEST(j["template_built"] == false);
    }
    BOOST_TEST(dbs.size() == 8u, "eight distinct databases");
    BOOST_TEST(claimed >= 2, "both spares were claimed, each by one call");
    for (const auto& db : dbs)
        BOOST_TEST(scalar_in(db,
                             "SELECT string_agg(version, ',' ORDER BY version) FROM "
                             "moonshift.migrations") == "001,002",
                   db);
    // Eight calls, up to eight refills: one at a time, none left running, no overshoot.
    BOOST_TEST(wait_until([&] { return processes_with_url() == 0; }),
               "every refill exits by itself");
    BOOST_TEST(spares(tpl).size() == 2u);
}

BOOST_FIXTURE_TEST_CASE(the_refill_exits_once_the_pool_is_full, testdb_project) {
    std::string tpl = made()["template"];
    BOOST_TEST(wait_until([&] { return processes_with_url() == 0; }),
               "the refill the first call started exits by itself");
    BOOST_TEST(spares(tpl).size() == 2u, "after making two spares");
    // Nothing of the server's left either: no session of a refill.
    BOOST_TEST(admin_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 "
                            "AND usename = current_user",
                            "moonshift testdb refill") == "0");
    BOOST_TEST(made()["spare_claimed"] == true);
    BOOST_TEST(wait_until([&] { return processes_with_url() == 0; }));
    BOOST_TEST(spares(tpl).size() == 2u);
    // A spare is not for `drop`: it goes with its template.
    auto refused = testdb({"drop", spares(tpl).at(0)});
    BOOST_TEST(refused.exit_code == 2, refused.out << refused.err);
    BOOST_TEST(spares(tpl).size() == 2u);
    // A refill whose server is gone just exits.
    auto r = ms({"testdb", "refill"}, {{"MOONSHIFT_URL", "postgresql://nobody@127.0.0.1:1/none"}});
    BOOST_TEST(r.exit_code != 0, r.out << r.err);
}

BOOST_FIXTURE_TEST_CASE(a_changed_migration_drops_the_old_templates_spares, testdb_project) {
    std::string old_tpl = made()["template"];
    BOOST_REQUIRE(wait_until([&] { return spares(old_tpl).size() == 2u; }));
    migration(
        "002_posts.sql",
        "CREATE TABLE posts (id int PRIMARY KEY, user_id int REFERENCES users, body text);\n");
    auto second = made();
    BOOST_TEST(second["template_built"] == true);
    BOOST_TEST(second["spare_claimed"] == false);
    BOOST_TEST(spares(old_tpl).empty(), "dropped with their template");
    std::string tpl = second["template"];
    BOOST_TEST(wait_until([&] { return spares(tpl).size() == 2u; }));
    auto third = made();
    BOOST_TEST(third["spare_claimed"] == true);
    BOOST_TEST(scalar_in(third["database"].get<std::string>(),
                         "SELECT count(*) FROM information_schema.columns "
                         "WHERE table_name = 'posts' AND column_name = 'body'") == "1",
               "a spare of the new template, not the old");
    BOOST_TEST(spares(old_tpl).empty());
    // prune --templates takes the spares with the template.
    BOOST_TEST(wait_until([&] { return processes_with_url() == 0; }));
    auto r = testdb({"prune", "--older-than", "0", "--templates"});
    BOOST_TEST(r.exit_code == 0, r.out << r.err);
    BOOST_TEST(listed([](const auto&) { return true; }).empty(), "nothing of testdb's is left");
}

BOOST_AUTO_TEST_CASE(with_no_spares_every_call_clones_as_before) {
    testdb_project p(true, "\n[testdb]\nspares = 0\n");
    std::string tpl = p.made()["template"];
    auto second = p.made();
    BOOST_TEST(second["spare_claimed"] == false);
    BOOST_TEST(second["template_built"] == false);
    BOOST_TEST(p.processes_with_url() == 0, "no refill started");
    BOOST_TEST(p.spares(tpl).empty());
    // The flag overrides the file: 1 spare, made by a refill.
    BOOST_TEST(p.made({"--spares", "1"})["spare_claimed"] == false);
    BOOST_TEST(wait_until([&] { return p.spares(tpl).size() == 1u; }));
    BOOST_TEST(wait_until([&] { return p.processes_with_url() == 0; }));
    // spares = 0 again: that spare is left alone, the call clones.
    BOOST_TEST(p.made()["spare_claimed"] == false);
    BOOST_TEST(p.spares(tpl).size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_bad_spares_count_is_refused_naming_where_and_nothing_is_made) {
    testdb_project p(true, "\n[testdb]\nspares = \"two\"\n");
    auto r = p.testdb();
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(contains(r.err, "moonshift.toml:"));
    BOOST_TEST(contains(r.err, "\"spares\" must be a whole number (0 or more)"));
    BOOST_TEST(r.out.empty());
    BOOST_TEST(p.ours().empty(), "nothing was created");
    // More than --spares allows is refused in the file too.
    testdb_project many(true, "\n[testdb]\nspares = 500\n");
    auto m = many.testdb();
    BOOST_TEST_INFO(m.out << m.err);
    BOOST_TEST(m.exit_code == 2);
    BOOST_TEST(contains(m.err, "\"spares\" must be at most 100"));
    BOOST_TEST(many.ours().empty(), "nothing was created");
    // On the command line: refused by the option's range check before anything
    // is read or made.
    testdb_project q(true);
    auto neg = q.testdb({"--spares=-1"});
    BOOST_TEST_INFO(neg.out << neg.err);
    BOOST_TEST(neg.exit_code == 2);
    BOOST_TEST(contains(neg.err, "--spares"), "the message names the option");
    BOOST_TEST(!contains(neg.err, "needs a subcommand"));
    BOOST_TEST(neg.out.empty());
    BOOST_TEST(q.ours().empty(), "nothing was created");
    BOOST_TEST(q.processes_with_url() == 0, "no refill started");
}

BOOST_AUTO_TEST_CASE(a_role_without_createdb_is_told_what_to_grant) {
    testdb_project p(false);
    auto r = p.testdb();
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(contains(r.err, "role \"" + p.role + "\" may not create databases"));
    BOOST_TEST(contains(r.err, "ALTER ROLE \"" + p.role + "\" CREATEDB"));
    BOOST_TEST(!contains(r.out + r.err, p.password));
    BOOST_TEST(r.out.empty());
    BOOST_TEST(p.ours().empty(), "nothing was created");
}

BOOST_FIXTURE_TEST_CASE(production_environments_are_refused, fresh_db) {
    project p("\n[env.production]\nurl = \"" + url + "\"\n");
    p.migration("001_users.sql", "CREATE TABLE users (id int);\n");
    auto r = p.ms({"--env", "production", "testdb"});
    BOOST_TEST(r.exit_code == 2, r.out << r.err);
    BOOST_TEST(contains(r.err, "production environment"), r.err);
}

BOOST_AUTO_TEST_SUITE_END()
