// `moonshift testdb`: the first call migrates a template and clones it; later
// calls clone the same template without running a migration; changed
// migrations make a new template and drop the old; eight processes at once
// share one template; drop and prune; a role without CREATEDB; no password
// in the output. Every database a test makes is dropped at its end.
#include "engine/testdb.hpp"

#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>
#include <set>

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

// A project whose role has a password of its own (so that a leak is visible)
// and CREATEDB; at the end every database testdb made for it and the role go.
struct testdb_project : project {
    std::string role = "ms_testdb_" + name;
    std::string password = "tdb-Secret-" + name.substr(name.size() - 6);
    std::string role_url = url_as_role(url, role, password);

    explicit testdb_project(bool createdb = true) {
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
            for (const auto& db : ours()) {
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
    // Every database on the server whose name testdb made for this project.
    std::vector<std::string> ours(bool templates_only = false) const {
        std::vector<std::string> out;
        pqxx::connection c(server_url());
        pqxx::nontransaction tx(c);
        for (auto row : tx.exec("SELECT datname FROM pg_database ORDER BY 1")) {
            auto p = moonshift::testdb::parse_name(row[0].c_str());
            if (p && p->project == slug() && (!templates_only || p->is_template))
                out.push_back(row[0].c_str());
        }
        return out;
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
