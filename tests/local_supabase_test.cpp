// `moonshift local` in Supabase's shape ([local] supabase; local/supabase.sql applied by
// engine/local_shape.cpp): a Supabase project as the Supabase CLI writes it
// (tests/fixtures/supabase-cli), whose policies call auth.uid(), applied on the private cluster,
// then queried as PostgREST would: as anon, authenticated (with the request's JWT claims set)
// and service_role. Off, the cluster stays plain PostgreSQL.
#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>
#include <thread>

#include "engine/local_shape.hpp"
#include "local/cluster.hpp"
#include "support/tool_project.hpp"

using moonshift::test::tool_project;
namespace fs = std::filesystem;

namespace {

const std::string ada = "00000000-0000-0000-0000-000000000001";
const std::string grace = "00000000-0000-0000-0000-000000000002";

// The fixture with `[env.local] local = true` as its default environment; `local_lines` go into
// a [local] section (none: the default, which a Supabase project turns on).
struct local_supabase_project : tool_project {
    explicit local_supabase_project(const std::string& local_lines = "")
        : tool_project("supabase-cli",
                       "migrations = \"supabase/migrations\"\nkeep_history = \"supabase\"\n"
                       "default_env = \"local\"\n") {
        file("moonshift.toml", read("moonshift.toml") + "\n[env.local]\nlocal = true\n" +
                                   (local_lines.empty() ? "" : "\n[local]\n" + local_lines));
        // Started here without fsync, as the harness starts its own (faster); the commands
        // below find it running and use it as `moonshift local start` left it.
        moonshift::local::options fast;
        fast.fsync = false;
        moonshift::local::cluster(dir.path / ".moonshift" / "local", fast).start();
    }
    std::string local_url() const {
        return moonshift::local::cluster(dir.path / ".moonshift" / "local").url();
    }
    // Runs sql on the local cluster's database, inside one transaction whose first statements
    // are `setup` (SET LOCAL ROLE …, the claims): the first column of each row.
    std::vector<std::string> as(const std::string& setup, const std::string& sql) const {
        pqxx::connection c(local_url());
        pqxx::work tx(c);
        if (!setup.empty()) tx.exec(setup);
        std::vector<std::string> out;
        for (auto row : tx.exec(sql)) out.push_back(row[0].is_null() ? "NULL" : row[0].c_str());
        return out;
    }
    std::string one(const std::string& setup, const std::string& sql) const {
        auto rows = as(setup, sql);
        BOOST_REQUIRE_EQUAL(rows.size(), 1u);
        return rows[0];
    }
    void local_sql(const std::string& sql) const {
        pqxx::connection c(local_url());
        pqxx::nontransaction tx(c);
        tx.exec(sql);
    }
};

// What PostgREST does for a request with a JWT: the role from its claim, the claims as JSON.
std::string authenticated(const std::string& sub) {
    return "SET LOCAL ROLE authenticated; SET LOCAL request.jwt.claims = '{\"sub\":\"" + sub +
           "\",\"role\":\"authenticated\",\"email\":\"" + sub.substr(35) + "@example.com\"}';";
}
const std::string anon =
    "SET LOCAL ROLE anon; SET LOCAL request.jwt.claims = '{\"role\":\"anon\"}';";
const std::string service =
    "SET LOCAL ROLE service_role; SET LOCAL request.jwt.claims = '{\"role\":\"service_role\"}';";

// A third migration as Supabase projects write them: profiles made by a trigger on auth.users
// from raw_user_meta_data, and a storage policy on each user's own folder.
const std::string third_migration = R"(
create function public.handle_new_user() returns trigger
  language plpgsql security definer set search_path = ''
as $$
begin
  insert into public.profiles (id, handle) values (new.id, new.raw_user_meta_data ->> 'handle');
  return new;
end;
$$;

create trigger on_auth_user_created
  after insert on auth.users
  for each row execute function public.handle_new_user();

create policy "own avatars"
  on storage.objects for select to authenticated
  using (bucket_id = 'avatars' and (storage.foldername(name))[1] = (select auth.uid())::text);
)";

}  // namespace

BOOST_AUTO_TEST_SUITE(local_supabase)

BOOST_AUTO_TEST_CASE(auth_uid_policies_apply_locally_and_each_role_sees_what_supabase_shows) {
    local_supabase_project p;  // no [local] setting: on, since supabase/config.toml is there
    p.file("supabase/migrations/20240107080000_signup.sql", third_migration);
    auto started = p.must({"local", "start"});
    BOOST_TEST(started.out.find("Supabase shape") != std::string::npos, started.out);
    p.must({"up"});
    BOOST_TEST(p.as("", "SELECT version FROM supabase_migrations.schema_migrations ORDER BY 1") ==
               (std::vector<std::string>{"20240105093000", "20240106120000", "20240107080000"}));

    // Users sign up (the trigger makes their profiles); notes and files are theirs.
    p.local_sql("insert into auth.users (id, email, role, aud, raw_user_meta_data) values ('" +
                ada +
                "', 'ada@example.com', 'authenticated', 'authenticated', '{\"handle\":\"ada\"}'), "
                "('" +
                grace +
                "', 'grace@example.com', 'authenticated', 'authenticated', "
                "'{\"handle\":\"grace\"}');"
                "insert into public.notes (owner, body) values ('" +
                ada + "', 'a1'), ('" + ada + "', 'a2'), ('" + grace +
                "', 'g1');"
                "insert into storage.buckets (id, name) values ('avatars', 'avatars');"
                "insert into storage.objects (bucket_id, name) values ('avatars', '" +
                ada + "/me.png'), ('avatars', '" + grace + "/me.png');");
    BOOST_TEST(p.one("", "SELECT count(*) FROM public.profiles") == "2");

    const std::string notes = "SELECT body FROM public.notes ORDER BY body";
    BOOST_TEST(p.as(authenticated(ada), notes) == (std::vector<std::string>{"a1", "a2"}));
    BOOST_TEST(p.as(authenticated(grace), notes) == (std::vector<std::string>{"g1"}));
    BOOST_TEST(p.as(anon, notes).empty());
    BOOST_TEST(p.as(service, notes) == (std::vector<std::string>{"a1", "a2", "g1"}));
    // The older per-claim setting PostgREST before 9 used.
    BOOST_TEST(
        p.as("SET LOCAL ROLE authenticated; SET LOCAL request.jwt.claim.sub = '" + grace + "';",
             notes) == (std::vector<std::string>{"g1"}));
    // The policy's with check: a note for someone else is refused.
    BOOST_CHECK_THROW(p.as(authenticated(ada), "INSERT INTO public.notes (owner, body) VALUES ('" +
                                                   grace + "', 'x') RETURNING body"),
                      pqxx::sql_error);
    BOOST_TEST(p.as(authenticated(ada), "INSERT INTO public.notes (owner, body) VALUES ('" + ada +
                                            "', 'a3') RETURNING body") ==
               (std::vector<std::string>{"a3"}));

    BOOST_TEST(p.one(authenticated(grace), "SELECT auth.role()") == "authenticated");
    BOOST_TEST(p.one(authenticated(grace), "SELECT auth.jwt() ->> 'sub'") == grace);
    BOOST_TEST(p.one(authenticated(grace), "SELECT auth.email()") == "2@example.com");
    BOOST_TEST(p.one(anon, "SELECT auth.uid()") == "NULL");
    BOOST_TEST(p.as(authenticated(grace), "SELECT name FROM storage.objects") ==
               (std::vector<std::string>{grace + "/me.png"}));
    BOOST_TEST(p.as(anon, "SELECT name FROM storage.objects").empty());

    // drift rebuilds the history on a scratch database of the same cluster: in the same shape.
    auto drift = p.ms({"drift"});
    BOOST_TEST(drift.exit_code == 0, drift.out << drift.err);
}

BOOST_AUTO_TEST_CASE(the_roles_and_schemas_are_supabases) {
    local_supabase_project p("supabase = true\n");
    p.must({"status"});  // any command on the local environment gives the shape
    BOOST_TEST(p.as("",
                    "SELECT rolname || ':' || rolcanlogin || ':' || rolbypassrls FROM pg_roles "
                    "WHERE rolname IN ('anon', 'authenticated', 'service_role', 'authenticator') "
                    "ORDER BY 1") ==
               (std::vector<std::string>{"anon:false:false", "authenticated:false:false",
                                         "authenticator:false:false", "service_role:false:true"}));
    BOOST_TEST(p.one("",
                     "SELECT count(*) FROM pg_auth_members WHERE member = "
                     "'authenticator'::regrole") == "3");
    for (auto column : {"id", "email", "created_at", "raw_user_meta_data", "raw_app_meta_data",
                        "role", "aud", "phone", "is_anonymous"})
        BOOST_TEST(p.one("", std::string("SELECT count(*) FROM pg_attribute WHERE attrelid = "
                                         "'auth.users'::regclass AND attname = '") +
                                 column + "'") == "1",
                   "auth.users has no column " << column);
    for (auto schema : {"public", "auth", "storage", "extensions"})
        for (auto role : {"anon", "authenticated", "service_role"})
            BOOST_TEST(p.one("", std::string("SELECT has_schema_privilege('") + role + "', '" +
                                     schema + "', 'USAGE')") == "t",
                       role << " cannot use schema " << schema);
    // Unqualified extension functions resolve as on Supabase (search_path has extensions).
    BOOST_TEST(p.one("", "SELECT length(uuid_generate_v4()::text)") == "36");
    BOOST_TEST(p.one("", "SHOW search_path").find("extensions") != std::string::npos);
    // A table a migration makes in public is granted to the API roles (default privileges).
    p.local_sql("CREATE TABLE public.later (id int)");
    BOOST_TEST(p.one("",
                     "SELECT has_table_privilege('authenticated', 'public.later', "
                     "'SELECT')") == "t");
    auto status = p.json({"local", "status"});
    BOOST_TEST(status["supabase"] == true);
}

BOOST_AUTO_TEST_CASE(the_shape_is_applied_once_per_database_and_roles_may_exist_already) {
    local_supabase_project p("supabase = true\n");
    p.must({"local", "start"});
    const std::string url = p.local_url();
    // Given once: a grant a migration revoked stays revoked on the next command (the shape's
    // GRANT … ON ALL TABLES IN SCHEMA public would give it back).
    BOOST_TEST(!moonshift::engine::apply_supabase_shape(url));
    p.local_sql(
        "CREATE TABLE public.private_stuff (id int); "
        "REVOKE ALL ON public.private_stuff FROM anon");
    p.must({"status"});
    BOOST_TEST(p.one("", "SELECT has_table_privilege('anon', 'public.private_stuff', 'SELECT')") ==
               "f");
    BOOST_TEST(p.one("",
                     "SELECT has_table_privilege('authenticated', 'public.private_stuff', "
                     "'SELECT')") == "t");

    // Another database of the cluster: the roles exist already; two sessions at once shape it
    // once, neither fails.
    p.local_sql("CREATE DATABASE second");
    std::string second = url;
    second.replace(second.rfind("/postgres"), 9, "/second");
    bool first_applied = false, second_applied = false;
    std::string thread_error;
    std::thread a([&] {
        try {
            first_applied = moonshift::engine::apply_supabase_shape(second);
        } catch (const std::exception& e) {
            thread_error = e.what();
        }
    });
    second_applied = moonshift::engine::apply_supabase_shape(second);
    a.join();
    BOOST_TEST(thread_error.empty(), thread_error);
    BOOST_TEST(first_applied != second_applied,
               "exactly one of the two applied it: " << first_applied << " " << second_applied);
    pqxx::connection c(second);
    pqxx::nontransaction tx(c);
    BOOST_TEST(tx.exec1("SELECT to_regprocedure('auth.uid()') IS NOT NULL")[0].as<bool>());
}

BOOST_AUTO_TEST_CASE(supabase_false_keeps_the_cluster_plain_postgresql) {
    local_supabase_project p("supabase = false\n");
    auto r = p.ms({"up"});
    BOOST_TEST(r.exit_code == 1, r.out << r.err);  // auth.uid() does not exist
    BOOST_TEST((r.out + r.err).find("auth") != std::string::npos, r.out << r.err);
    BOOST_TEST(p.one("",
                     "SELECT count(*) FROM pg_roles WHERE rolname IN ('anon', "
                     "'authenticated', 'service_role')") == "0");
    BOOST_TEST(p.one("", "SELECT to_regnamespace('auth') IS NULL") == "t");
    auto status = p.json({"local", "status"});
    BOOST_TEST(status["supabase"] == false);
}

BOOST_AUTO_TEST_CASE(init_in_a_supabase_repository_asks_for_the_shape) {
    local_supabase_project p;
    fs::remove(p.dir.path / "moonshift.toml");
    p.must({"init"});
    auto toml = p.read("moonshift.toml");
    BOOST_TEST(toml.find("[local]\nsupabase = true\n") != std::string::npos, toml);
    toml.replace(toml.find("[local]\nsupabase"), 16, "[local]\nsupabse");
    p.file("moonshift.toml", toml);
    auto r = p.ms({"status"});
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(r.err.find("supabse") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_SUITE_END()
