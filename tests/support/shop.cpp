#include "support/shop.hpp"

#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>

namespace moonshift::test {

shop::shop(bool in_database, const std::string& extra)
    : project((in_database ? std::string("backup_store = \"database\"\n") : std::string()) + extra),
      in_db(in_database) {
    migration("001_shop.sql",
              "CREATE TABLE IF NOT EXISTS users (id serial PRIMARY KEY, email text UNIQUE, "
              "name text NOT NULL,\n"
              "  score numeric(10,2) DEFAULT 0, note text);\n"
              "CREATE INDEX IF NOT EXISTS users_name ON users (name);\n"
              "INSERT INTO users (email, name, score, note)\n"
              "  SELECT CASE WHEN g % 10 = 0 THEN NULL ELSE 'u' || g || '@example.com' END, "
              "'Zoë ' || g, g / 7.0,\n"
              "         CASE WHEN g % 3 = 0 THEN E'tab\\there\\nnewline' END\n"
              "  FROM generate_series(1, 1000) g;\n"
              "CREATE TABLE IF NOT EXISTS orders (id int PRIMARY KEY, user_id int REFERENCES "
              "users (id), total int);\n"
              "INSERT INTO orders SELECT g, g, g * 3 FROM generate_series(1, 50) g;\n");
    auto r = ms({"up"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
}

std::string shop::store_setting() const { return in_db ? "backup_store = \"database\"\n" : ""; }

std::vector<std::string> rows_of(const project& p, const std::string& table,
                                 const std::string& order) {
    pqxx::connection c(p.url);
    pqxx::nontransaction tx(c);
    std::vector<std::string> out;
    for (auto row : tx.exec("SELECT t::text FROM " + table + " t ORDER BY " + order))
        out.push_back(row[0].c_str());
    return out;
}

}  // namespace moonshift::test
