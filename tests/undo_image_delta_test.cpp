// The image after a migration read only where the migration wrote
// (schema::image_after, host/schema/image.cpp) against the whole catalog read
// again (schema::image): for migrations of every kind a derived reverse
// handles, on a catalog that already holds other tables, views, foreign keys,
// policies, functions, sequences and enums, the reverse derived from the
// delta's parts is the reverse derived from the two whole images, the image
// it leaves for the next migration is the whole image, and it read again only
// the tables the migration touched (plus those whose printed definitions name
// them). Also: still_current says no after another session's DDL.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "db/session.hpp"
#include "db/transaction.hpp"
#include "schema/reverse.hpp"
#include "support/harness.hpp"

namespace db = moonshift::db;
namespace schema = moonshift::schema;
using json = nlohmann::json;

namespace {

// Objects a migration leaves alone; some of them name what migrations touch.
constexpr const char* setup_sql = R"SQL(
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL,
                    m mood DEFAULT 'happy');
CREATE UNIQUE INDEX users_email ON users (email);
CREATE TABLE posts (id serial PRIMARY KEY, user_id bigint REFERENCES users (id), body text,
                    CONSTRAINT body_len CHECK (length(body) < 1000));
CREATE INDEX posts_user ON posts (user_id);
CREATE VIEW user_posts AS SELECT u.email, p.body FROM users u JOIN posts p ON p.user_id = u.id;
ALTER TABLE posts ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON posts USING (user_id > 0);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER posts_touch BEFORE UPDATE ON posts FOR EACH ROW EXECUTE FUNCTION touch();
CREATE SEQUENCE tickets;
DO $$ BEGIN
  FOR i IN 1..40 LOOP
    EXECUTE format('CREATE TABLE filler_%s (id int PRIMARY KEY, v text)', i);
    EXECUTE format('CREATE INDEX ON filler_%s (v)', i);
  END LOOP;
END $$;
)SQL";

// Migrations of every kind the derived reverse knows, each on the setup.
const std::vector<std::pair<std::string, std::string>> migrations = {
    {"create a table", "CREATE TABLE tags (id int PRIMARY KEY, name text UNIQUE)"},
    {"add a column with a default", "ALTER TABLE users ADD COLUMN name text DEFAULT 'x'"},
    {"drop a column", "ALTER TABLE posts DROP COLUMN body CASCADE"},
    {"rename a column a view and a foreign key name", "ALTER TABLE users RENAME COLUMN id TO uid"},
    {"rename a table", "ALTER TABLE users RENAME TO members"},
    {"drop an index", "DROP INDEX posts_user"},
    {"drop a policy", "DROP POLICY own ON posts"},
    {"drop a trigger", "DROP TRIGGER posts_touch ON posts"},
    {"drop a check constraint", "ALTER TABLE posts DROP CONSTRAINT body_len"},
    {"replace a function",
     "CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql "
     "AS $$ BEGIN NEW.body := 'x'; RETURN NEW; END $$"},
    {"add an enum value", "ALTER TYPE mood ADD VALUE 'calm'"},
    {"drop a table with its view", "DROP TABLE posts CASCADE"},
    {"grant and revoke", "GRANT SELECT ON users TO PUBLIC; REVOKE ALL ON posts FROM PUBLIC"},
    {"a sequence and a default",
     "ALTER SEQUENCE tickets INCREMENT BY 5; "
     "ALTER TABLE users ALTER COLUMN email SET DEFAULT 'none'"},
    {"a DO block (a subtransaction)",
     "DO $$ BEGIN CREATE TYPE size AS ENUM ('s', 'm'); "
     "EXCEPTION WHEN duplicate_object THEN NULL; END $$; "
     "DO $$ BEGIN ALTER TABLE posts ADD CONSTRAINT p_user FOREIGN KEY (user_id) "
     "REFERENCES users (id); EXCEPTION WHEN duplicate_object THEN NULL; END $$"},
    {"an index on an existing table", "CREATE INDEX filler_1_id_v ON filler_1 (id, v)"},
};

struct catalog_db : moonshift::test::fresh_db {
    db::session s{settings()};
    catalog_db() { s.exec_script(setup_sql); }
    db::settings settings() const {
        db::settings out;
        out.url = url;
        return out;
    }
};

const std::vector<std::string> left_out = {"moonshift"};

// The image without what only says when it was taken, and with every
// object's "mine" left out (the delta keeps the flags of the migration that
// wrote an object last; a whole image says whether this one did).
json comparable(json image) {
    for (const char* k : {"census", "since", "xids", "snapshot", "own", "fresh", "gone"})
        image.erase(k);
    for (auto& [kind, objects] : image.items()) {
        if (!objects.is_object()) continue;
        for (auto& [oid, o] : objects.items()) {
            if (!o.is_object()) continue;
            o.erase("mine");
            if (o.contains("columns"))
                for (auto& [n, c] : o["columns"].items()) c.erase("mine");
        }
    }
    return image;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(undo_image_delta)

BOOST_FIXTURE_TEST_CASE(the_delta_derives_the_reverse_the_whole_images_derive, catalog_db) {
    for (const auto& [what, sql] : migrations) {
        BOOST_TEST_CONTEXT(what) {
            db::transaction tx(s);
            auto before = schema::image(s, left_out);
            s.exec_script(sql);
            auto whole = schema::image(s, left_out);
            auto expected = schema::reverse_of(before, whole);
            auto d = schema::image_after(s, left_out, before);
            auto got = schema::reverse_of(d.before_part, d.after_part);
            BOOST_TEST(got.statements == expected.statements, boost::test_tools::per_element());
            BOOST_TEST(got.finish == expected.finish, boost::test_tools::per_element());
            BOOST_TEST(got.irreversible == expected.irreversible, boost::test_tools::per_element());
            BOOST_TEST((!expected.empty() || what == "add an enum value"),
                       "the migration has a reverse to compare");
            BOOST_TEST(comparable(d.after) == comparable(whole),
                       "the image left for the next migration is the whole catalog");
            // Read again: the touched tables, not the 40 fillers.
            BOOST_TEST(d.after_part["tables"].size() <= 6u, d.after_part["tables"].size());
            // tx rolls back: the next migration starts from the setup again.
        }
    }
}

BOOST_FIXTURE_TEST_CASE(an_image_stops_holding_when_another_session_changes_the_catalog,
                        catalog_db) {
    auto image = schema::image(s, left_out);
    BOOST_TEST(schema::still_current(s, image), "nothing changed since it was taken");
    db::session other(settings());
    other.exec_script("ALTER TABLE filler_2 ADD COLUMN w int");  // a row written, none added
    BOOST_TEST(!schema::still_current(s, image));
    image = schema::image(s, left_out);
    BOOST_TEST(schema::still_current(s, image));
    other.exec_script("DROP POLICY own ON posts");  // a row gone, none written
    BOOST_TEST(!schema::still_current(s, image));
}

// still_current asks the commit log first: which transactions committed since
// the image's snapshot. These break that shortcut where it could be fooled.
BOOST_FIXTURE_TEST_CASE(an_image_sees_ddl_committed_after_it_by_a_transaction_open_before_it,
                        catalog_db) {
    db::session other(settings());
    db::transaction open(other);
    // In progress: not seen (a new table: nothing the image reads waits for its lock).
    other.exec_script("CREATE TABLE late (id int PRIMARY KEY)");
    auto image = schema::image(s, left_out);
    BOOST_TEST(image["tables"].size() >= 40u, "the setup's tables are in it");
    for (const auto& [oid, t] : image["tables"].items())
        BOOST_TEST(t.value("relname", "") != "late", "the image holds no uncommitted table");
    open.commit();
    BOOST_TEST(!schema::still_current(s, image), "a transaction in its snapshot's list committed");
}

BOOST_FIXTURE_TEST_CASE(an_image_holds_after_its_own_commit_and_after_writes_of_rows_only,
                        catalog_db) {
    json image;
    {
        db::transaction tx(s);
        s.exec_script("CREATE TABLE own_table (id int PRIMARY KEY)");  // this image's own DDL
        image = schema::image(s, left_out);
        tx.commit();
    }
    BOOST_TEST(schema::still_current(s, image), "only its own transaction committed since");
    db::session other(settings());
    other.exec_script("INSERT INTO filler_4 VALUES (1, 'x')");  // a commit without catalog rows
    BOOST_TEST(schema::still_current(s, image), "a commit that wrote only rows of a table");
    other.exec_script("CREATE INDEX ON filler_4 (id, v)");
    BOOST_TEST(!schema::still_current(s, image), "a commit that wrote catalog rows");
}

BOOST_AUTO_TEST_SUITE_END()
