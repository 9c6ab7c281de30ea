// Throw-away projects for CLI tests.
#include "support/project.hpp"

#include <algorithm>
#include <pqxx/pqxx>
#include <sstream>

#include "catalog/catalog.hpp"

namespace moonshift::test {

project::project(const std::string& extra_env_settings) {
    write_file(dir.path / "moonshift.toml",
               "[project]\nmigrations = \"migrations\"\n\n[env.test]\nurl = \"" + url +
                   "\"\nlock_wait = \"2s\"\n" + extra_env_settings);
    std::filesystem::create_directories(dir.path / "migrations");
}

void project::migration(const std::string& file, const std::string& sql) const {
    write_file(dir.path / "migrations" / file, sql);
}

cli_result project::ms(std::vector<std::string> args, const env_changes& env) const {
    args.insert(args.begin(), "--no-color");
    return run_cli(args, dir.path, env);
}

child project::spawn(std::vector<std::string> args, const env_changes& env) const {
    args.insert(args.begin(), "--no-color");
    return spawn_cli(args, dir.path, env);
}

std::string project::scalar(const std::string& sql) const {
    pqxx::connection c(url);
    pqxx::nontransaction tx(c);
    auto r = tx.exec(sql);
    if (r.empty() || r[0][0].is_null()) return "";
    return r[0][0].c_str();
}

long long project::count(const std::string& sql) const {
    return std::stoll(scalar("SELECT count(*) FROM (" + sql + ") q"));
}

bool project::table_exists(const std::string& name) const {
    return scalar("SELECT to_regclass('" + name + "') IS NOT NULL") == "t";
}

std::vector<std::string> project::applied_versions() const {
    std::vector<std::string> out;
    if (!table_exists("moonshift.migrations")) return out;
    pqxx::connection c(url);
    pqxx::nontransaction tx(c);
    for (auto row : tx.exec("SELECT version FROM moonshift.migrations"))
        out.push_back(row[0].c_str());
    // Numeric order, as the engine sees it ("9" < "010", "1.9" < "1.10").
    std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
        return catalog::compare_versions(a, b) < 0;
    });
    return out;
}

std::string project::fingerprint() const {
    pqxx::connection c(url);
    pqxx::nontransaction tx(c);
    std::ostringstream s;
    for (auto row : tx.exec("SELECT table_schema, table_name, column_name, data_type FROM "
                            "information_schema.columns "
                            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema', "
                            "'moonshift') ORDER BY 1, 2, 3"))
        s << row[0].c_str() << "." << row[1].c_str() << "." << row[2].c_str() << ":"
          << row[3].c_str() << "\n";
    for (auto row : tx.exec("SELECT indexname FROM pg_indexes WHERE schemaname NOT IN "
                            "('pg_catalog', 'moonshift') ORDER BY 1"))
        s << "index " << row[0].c_str() << "\n";
    if (table_exists("moonshift.migrations"))
        for (auto row : tx.exec("SELECT version, checksum FROM moonshift.migrations ORDER BY 1"))
            s << "applied " << row[0].c_str() << " " << row[1].c_str() << "\n";
    return s.str();
}

nlohmann::json last_json(const std::string& out) {
    std::istringstream in(out);
    std::string line;
    nlohmann::json last;
    while (std::getline(in, line)) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_discarded()) last = j;
    }
    return last;
}

}  // namespace moonshift::test
