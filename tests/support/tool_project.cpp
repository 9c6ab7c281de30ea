// Projects written by other tools, for the drop-in suites.
#include "support/tool_project.hpp"

#include <openssl/sha.h>

#include <boost/test/unit_test.hpp>
#include <iomanip>
#include <pqxx/pqxx>
#include <sstream>

namespace moonshift::test {
namespace fs = std::filesystem;

tool_project::tool_project(const std::string& fixture, const std::string& project_lines) {
    auto from = fs::path(MOONSHIFT_SOURCE_DIR) / "tests" / "fixtures" / fixture;
    fs::remove_all(dir.path / "migrations");
    fs::copy(from, dir.path, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    write_file(dir.path / "moonshift.toml", "[project]\n" + project_lines +
                                                "\n\n[env.test]\nurl = \"" + url +
                                                "\"\nlock_wait = \"5s\"\n"
                                                // Roles are cluster-wide: once a fixture creates
                                                // Supabase's anon/authenticated, every database of
                                                // the test server looks like Supabase and `public`
                                                // becomes exposed (rls-required). These tests are
                                                // about histories, so name the exposed schema.
                                                "\n[lint]\nexposed_schemas = [\"api\"]\n");
    if (fs::exists(from / "bootstrap.sql")) sql(read_file(from / "bootstrap.sql"));
}

void tool_project::file(const std::string& rel, const std::string& content) const {
    write_file(dir.path / rel, content);
}

std::string tool_project::read(const std::string& rel) const { return read_file(dir.path / rel); }

void tool_project::sql(const std::string& text) const {
    pqxx::connection c(url);
    pqxx::nontransaction tx(c);
    tx.exec(text);
}

cli_result tool_project::must(const std::vector<std::string>& args, int exit_code) const {
    auto r = ms(args);
    BOOST_TEST_INFO("moonshift " << args.front() << " → " << r.exit_code << "\n" << r.out << r.err);
    BOOST_REQUIRE(r.exit_code == exit_code);
    return r;
}

nlohmann::json tool_project::json(std::vector<std::string> args, int exit_code) const {
    args.insert(args.begin(), "--json");
    return last_json(must(args, exit_code).out);
}

std::vector<std::string> tool_project::rows(const std::string& sql) const {
    pqxx::connection c(url);
    pqxx::nontransaction tx(c);
    std::vector<std::string> out;
    for (auto row : tx.exec(sql)) {
        std::string line;
        for (pqxx::row::size_type i = 0; i < row.size(); ++i)
            line += (i ? "|" : "") + std::string(row[i].is_null() ? "NULL" : row[i].c_str());
        out.push_back(line);
    }
    return out;
}

std::string sha256_of_file(const fs::path& p) {
    auto bytes = read_file(p);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
    std::ostringstream hex;
    for (auto b : digest) hex << std::hex << std::setw(2) << std::setfill('0') << int(b);
    return hex.str();
}

}  // namespace moonshift::test
