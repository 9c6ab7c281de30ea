// examples/ci/github-actions.yml, run as GitHub would: every `run:` of its jobs, in the order the
// file lists them (the pull request's plan job, then staging, then production), with bash -e in
// a copy of examples/ci, against two local databases as STAGING_DATABASE_URL and
// PRODUCTION_DATABASE_URL, and `moonshift` on PATH being the built binary. "Install moonshift"
// is the one step left out: tests/install_package_test.cpp installs the .deb.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <regex>
#include <sstream>

#include "support/project.hpp"

using namespace moonshift::test;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

struct step {
    std::string job, name, script;
};

std::size_t indent_of(const std::string& l) {
    auto n = l.find_first_not_of(' ');
    return n == std::string::npos ? l.size() : n;
}

// The `run:` steps of a workflow, in file order: enough YAML for the block (`run: |`) and plain
// (`run: cmd`) forms the example uses.
std::vector<step> run_steps(const std::string& yaml) {
    static const std::regex job(R"(^  ([A-Za-z0-9_-]+):\s*$)");
    static const std::regex name(R"(^\s+(?:- )?name:\s*(.*)$)");
    static const std::regex run(R"(^(\s+)(?:- )?run:\s*(.*)$)");
    std::vector<step> out;
    std::vector<std::string> lines;
    std::istringstream in(yaml);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    bool in_jobs = false;
    std::string current_job, current_name;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const auto& l = lines[i];
        std::smatch m;
        if (l == "jobs:") in_jobs = true;
        if (!in_jobs) continue;
        if (std::regex_match(l, m, job)) current_job = m[1];
        if (contains(l, "- ")) current_name.clear();  // a new step
        if (std::regex_match(l, m, name)) current_name = m[1];
        if (!std::regex_match(l, m, run)) continue;
        std::string value = m[2], script;
        if (value == "|") {
            std::size_t base = m[1].length();
            for (; i + 1 < lines.size() && (lines[i + 1].empty() || indent_of(lines[i + 1]) > base);
                 ++i)
                script += lines[i + 1].substr(std::min(lines[i + 1].size(), base + 2)) + "\n";
        } else {
            script = value + "\n";
        }
        out.push_back({current_job, current_name, script});
    }
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ci_example)

BOOST_AUTO_TEST_CASE(the_workflows_commands_pass_in_order_against_local_databases) {
    fresh_db staging, production;
    const fs::path source = MOONSHIFT_SOURCE_DIR;
    const std::string yaml = read_file(source / "examples/ci/github-actions.yml");
    auto steps = run_steps(yaml);
    BOOST_TEST_INFO(yaml);
    BOOST_REQUIRE(steps.size() >= 8);

    temp_dir work;
    const fs::path checkout = work.path / "repo";
    fs::copy(source / "examples/ci", checkout, fs::copy_options::recursive);
    fs::create_directories(work.path / "bin");
    fs::create_symlink(MOONSHIFT_BIN, work.path / "bin/moonshift");
    const fs::path summary = work.path / "step_summary.md";
    write_file(summary, "");
    env_changes env = {{"PATH", (work.path / "bin").string() + ":" + std::getenv("PATH")},
                       {"STAGING_DATABASE_URL", staging.url},
                       {"PRODUCTION_DATABASE_URL", production.url},
                       {"MOONSHIFT_NO_COLOR", "1"},
                       {"GITHUB_ACTIONS", "true"},
                       {"CI", "true"},
                       {"GITHUB_STEP_SUMMARY", summary.string()}};

    std::vector<std::string> ran;
    for (auto& s : steps) {
        if (s.name == "Install moonshift") continue;
        auto r = run_program("/bin/bash", {"-e", "-c", s.script}, checkout, env,
                             std::chrono::seconds(300));
        BOOST_TEST_INFO(s.job << " / " << s.name << ":\n" << s.script << r.out << r.err);
        BOOST_TEST(r.exit_code == 0);
        BOOST_TEST(!contains(r.out + r.err, staging.url), "a URL was printed");
        ran.push_back(s.job + "/" + s.name);
    }
    BOOST_TEST((ran == std::vector<std::string>{
                           "plan/Lint", "plan/Plan against staging", "plan/Job summary",
                           "staging/Up on staging", "staging/Job summary",
                           "production/Promote to production", "production/Job summary"}));

    for (auto* url : {&staging.url, &production.url}) {
        pqxx::connection c(*url);
        pqxx::nontransaction tx(c);
        BOOST_TEST(tx.exec1("SELECT count(*) FROM moonshift.migrations")[0].as<int>() == 3);
        BOOST_TEST(tx.exec1("SELECT count(*) FROM accounts")[0].as<int>() == 2);
    }
    auto md = read_file(summary);
    BOOST_TEST_INFO(md);
    BOOST_TEST(contains(md, "plan"));
    BOOST_TEST(contains(md, "staging"));
    BOOST_TEST(contains(md, "production"));
    // What the upload-artifact step keeps: production's backup taken before 003 dropped a column.
    const fs::path backups = checkout / ".moonshift/backups";
    BOOST_TEST(fs::is_directory(backups));
    bool any = false;
    if (fs::is_directory(backups))
        for (auto& e : fs::recursive_directory_iterator(backups)) any = any || e.is_regular_file();
    BOOST_TEST(any, "no backup file in .moonshift/backups");
}

BOOST_AUTO_TEST_SUITE_END()
