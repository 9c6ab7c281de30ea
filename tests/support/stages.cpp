// Staging and production for environment tests.
#include "support/stages.hpp"

#include <pqxx/pqxx>
#include <sstream>

namespace moonshift::test {

stages::stages(const std::string& production_settings, const std::string& extra) {
    write_config(production_settings, extra);
    std::filesystem::create_directories(dir.path / "migrations");
}

void stages::write_config(const std::string& production_settings, const std::string& extra) const {
    write_file(dir.path / "moonshift.toml",
               "[project]\nmigrations = \"migrations\"\n\n"
               "[env.staging]\nurl = \"" +
                   staging.url +
                   "\"\nlock_wait = \"2s\"\n\n"
                   "[env.production]\nurl = \"" +
                   production.url + "\"\nlock_wait = \"2s\"\n" + production_settings + "\n" +
                   extra);
}

void stages::migration(const std::string& file, const std::string& sql) const {
    write_file(dir.path / "migrations" / file, sql);
}

cli_result stages::ms(std::vector<std::string> args, const env_changes& env) const {
    args.insert(args.begin(), "--no-color");
    return run_cli(args, dir.path, env);
}

child stages::spawn(std::vector<std::string> args, const env_changes& env) const {
    args.insert(args.begin(), "--no-color");
    return spawn_cli(args, dir.path, env);
}

std::string stages::scalar(const fresh_db& db, const std::string& sql) const {
    pqxx::connection c(db.url);
    pqxx::nontransaction tx(c);
    auto r = tx.exec(sql);
    if (r.empty() || r[0][0].is_null()) return "";
    return r[0][0].c_str();
}

std::vector<std::string> stages::applied(const fresh_db& db) const {
    std::vector<std::string> out;
    pqxx::connection c(db.url);
    pqxx::nontransaction tx(c);
    if (!tx.exec("SELECT to_regclass('moonshift.migrations') IS NOT NULL")[0][0].as<bool>())
        return out;
    for (const auto& row : tx.exec("SELECT version FROM moonshift.migrations ORDER BY version"))
        out.push_back(row[0].c_str());
    return out;
}

bool stages::table_exists(const fresh_db& db, const std::string& name) const {
    return scalar(db, "SELECT to_regclass('" + name + "') IS NOT NULL") == "t";
}

std::vector<nlohmann::json> json_lines(const std::string& out) {
    std::vector<nlohmann::json> lines;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] != '{') continue;
        try {
            lines.push_back(nlohmann::json::parse(line));
        } catch (const std::exception&) {
        }
    }
    return lines;
}

std::vector<std::string> event_names(const std::string& out) {
    std::vector<std::string> names;
    for (auto& j : json_lines(out))
        if (j.contains("event")) names.push_back(j["event"].get<std::string>());
    return names;
}

}  // namespace moonshift::test
