// `plan` rolls its rehearsal back, and says what a rollback cannot undo: a
// migration that would end sessions, reach other databases or the server's
// files is not rehearsed, and sequences it advanced are named (issue 12).
#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>

#include "support/project.hpp"

using moonshift::test::last_json;
using moonshift::test::project;

BOOST_AUTO_TEST_SUITE(plan_side_effects)

BOOST_AUTO_TEST_CASE(a_migration_that_ends_sessions_is_not_rehearsed_and_ends_none) {
    project p;
    p.migration("001_kick.sql",
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity\n"
                " WHERE application_name = 'victim';\n");
    pqxx::connection victim(p.url);
    pqxx::nontransaction setup(victim);
    setup.exec("SET application_name = 'victim'");
    auto r = p.ms({"plan"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(r.out.find("not rehearsed") != std::string::npos);
    BOOST_TEST(r.out.find("calls pg_terminate_backend()") != std::string::npos);
    // The victim's session is still there.
    BOOST_TEST(setup.exec("SELECT 1")[0][0].as<int>() == 1);
}

BOOST_AUTO_TEST_CASE(copy_to_a_program_is_not_rehearsed) {
    project p;
    p.migration("001_copy.sql", "COPY (SELECT 1) TO PROGRAM 'true';\n");
    auto r = p.ms({"--json", "plan"});
    BOOST_TEST_INFO(r.out << r.err);
    auto j = last_json(r.out);
    BOOST_TEST(j["migrations"][0]["rehearsed"] == false);
    BOOST_TEST(j["migrations"][0]["not_rehearsed"].get<std::string>().find("COPY … PROGRAM") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(sequences_the_rehearsal_advanced_are_named) {
    project p;
    p.migration("001_t.sql", "CREATE TABLE t (id bigserial PRIMARY KEY, v int);\n");
    BOOST_TEST_REQUIRE(p.ms({"up"}).exit_code == 0);
    p.migration("002_rows.sql", "INSERT INTO t (v) SELECT generate_series(1, 3);\n");
    auto r = p.ms({"plan"});
    BOOST_TEST_INFO(r.out << r.err);
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(r.out.find("sequence advanced") != std::string::npos);
    BOOST_TEST(r.out.find("public.t_id_seq: unused → 3") != std::string::npos);
    BOOST_TEST(p.count("SELECT * FROM t") == 0);
}

BOOST_AUTO_TEST_SUITE_END()
