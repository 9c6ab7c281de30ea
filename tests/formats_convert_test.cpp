// `moonshift convert --to native`: a database migrated from another tool's
// layout stays in step after the switch (versions kept, checksums traced), and
// an edit after conversion still shows as drift.
#include <boost/test/unit_test.hpp>

#include "support/project.hpp"

using moonshift::test::last_json;
using moonshift::test::project;
using moonshift::test::read_file;
using moonshift::test::write_file;

namespace {

struct convertible : project {
    void use(const std::string& dir) const {
        write_file(this->dir.path / "moonshift.toml", "[project]\nmigrations = \"" + dir +
                                                          "\"\n\n[env.test]\nurl = \"" + url +
                                                          "\"\nlock_wait = \"2s\"\n");
    }
    void file(const std::string& rel, const std::string& content) const {
        write_file(dir.path / rel, content);
    }
    nlohmann::json status() const { return last_json(ms({"--json", "status"}).out); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(formats_convert)

BOOST_FIXTURE_TEST_CASE(a_flyway_database_stays_in_step_after_converting_to_native, convertible) {
    use("flyway");
    file("flyway/V1__t.sql", "CREATE TABLE t (id int);\n");
    file("flyway/V1.1__u.sql", "CREATE TABLE u (id int);\n");
    file("flyway/U1.1__u.sql", "DROP TABLE u;\n");
    file("flyway/V2__idx.sql", "CREATE INDEX CONCURRENTLY t_id ON t (id);\n");
    file("flyway/U2__idx.sql", "DROP INDEX CONCURRENTLY t_id;\n");
    file("flyway/R__view.sql", "CREATE OR REPLACE VIEW v AS SELECT id FROM t;\n");
    auto up = ms({"up"});
    BOOST_TEST_INFO(up.err);
    BOOST_REQUIRE(up.exit_code == 0);

    auto conv = ms({"--json", "convert", "--to", "native", "native"});
    BOOST_TEST_INFO(conv.err);
    BOOST_REQUIRE(conv.exit_code == 0);
    auto written = last_json(conv.out)["written"];
    BOOST_TEST(written.size() == 6u);
    auto header = read_file(dir.path / "native" / "1.1_u.sql");
    BOOST_TEST(header.find("from flyway flyway/V1.1__u.sql, flyway/U1.1__u.sql") !=
               std::string::npos);
    BOOST_TEST(header.find("-- moonshift:converted-from flyway:flyway/V1.1__u.sql checksum=") !=
               std::string::npos);
    BOOST_TEST(read_file(dir.path / "native" / "1.1_u.down.sql") == "DROP TABLE u;\n");
    BOOST_TEST(read_file(dir.path / "native" / "2_idx.sql").find("-- moonshift:no-transaction") !=
               std::string::npos);

    use("native");
    auto st = status();
    BOOST_TEST(st["format"] == "native");
    BOOST_TEST(st["summary"]["applied"] == 3);
    BOOST_TEST(st["summary"]["changed"] == 0);
    BOOST_TEST(st["summary"]["pending"] == 0);
    BOOST_TEST(st["repeatables"][0]["state"] == "applied");
    auto again = ms({"up"});
    BOOST_TEST(again.out.find("Nothing to apply") != std::string::npos);
    BOOST_TEST(ms({"down"}).exit_code == 0);  // the converted down file works
    BOOST_TEST(ms({"down"}).exit_code == 0);
    BOOST_TEST(!table_exists("u"));

    // An edit after the conversion is drift, as for any native file.
    file("native/1_t.sql", read_file(dir.path / "native" / "1_t.sql") + "-- edited\n");
    BOOST_TEST(ms({"status"}).exit_code == 5);
}

BOOST_FIXTURE_TEST_CASE(dbmate_and_sqitch_files_become_up_down_and_verify_files, convertible) {
    use("db/migrations");
    file("db/migrations/20240101000000_users.sql",
         "-- migrate:up\nCREATE TABLE users (id int);\n\n-- migrate:down\nDROP TABLE users;\n");
    BOOST_REQUIRE(ms({"up"}).exit_code == 0);
    BOOST_REQUIRE(ms({"convert", "--to", "native", "native"}).exit_code == 0);
    auto up = read_file(dir.path / "native" / "20240101000000_users.sql");
    BOOST_TEST(up.find("CREATE TABLE users (id int);\n") != std::string::npos);
    BOOST_TEST(up.find("DROP TABLE") == std::string::npos);
    BOOST_TEST(read_file(dir.path / "native" / "20240101000000_users.down.sql") ==
               "DROP TABLE users;\n");
    use("native");
    BOOST_TEST(status()["summary"]["changed"] == 0);

    convertible s;
    s.use(".");
    s.file("sqitch.plan", "%project=p\nusers 2024-01-01T00:00:00Z Ann <ann@example.com>\n");
    s.file("deploy/users.sql", "BEGIN;\nCREATE TABLE users (nick text);\nCOMMIT;\n");
    s.file("revert/users.sql", "BEGIN;\nDROP TABLE users;\nCOMMIT;\n");
    s.file("verify/users.sql", "BEGIN;\nSELECT nick FROM users WHERE FALSE;\nROLLBACK;\n");
    BOOST_REQUIRE(s.ms({"up"}).exit_code == 0);
    auto r = s.ms({"convert", "--to", "native", "native"});
    BOOST_TEST_INFO(r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    BOOST_TEST(read_file(s.dir.path / "native" / "1_users.verify.sql") ==
               "SELECT nick FROM users WHERE FALSE;\n");
    s.use("native");
    auto st = s.status();
    BOOST_TEST(st["summary"]["applied"] == 1);
    BOOST_TEST(st["summary"]["changed"] == 0);
    BOOST_TEST(s.ms({"down"}).exit_code == 0);
    BOOST_TEST(s.ms({"up"}).exit_code == 0);  // with its verify file, in one transaction
    BOOST_TEST(s.table_exists("users"));
}

BOOST_FIXTURE_TEST_CASE(converting_native_files_or_into_a_non_empty_directory_is_refused,
                        convertible) {
    migration("001_a.sql", "CREATE TABLE a (id int);\n");
    auto r = ms({"convert", "--to", "native", "out"});
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(r.err.find("already in moonshift's own layout") != std::string::npos);
    use("flyway");
    file("flyway/V1__a.sql", "CREATE TABLE a (id int);\n");
    file("out/keep.txt", "x\n");
    auto n = ms({"convert", "--to", "native", "out"});
    BOOST_TEST(n.exit_code == 2);
    BOOST_TEST(n.err.find("out is not empty") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
