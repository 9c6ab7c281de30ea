// The lint suites' fixture (linting.hpp).
#include "support/linting.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>

#include "sql/sql.hpp"

namespace moonshift::test {

std::vector<std::string> linted::rules() const {
    std::vector<std::string> out;
    for (const auto& f : findings)
        if (!f.suppressed) out.push_back(f.rule);
    return out;
}

bool linted::has(const std::string& rule) const {
    auto r = rules();
    return std::find(r.begin(), r.end(), rule) != r.end();
}

std::string linted::text() const {
    std::string out;
    for (const auto& f : findings) out += lint::format(f) + "\n";
    return out;
}

linted linter_fixture::run(const std::vector<std::pair<std::string, std::string>>& files) {
    std::vector<sql::script> scripts;
    scripts.reserve(files.size());
    std::vector<lint::file> in;
    for (const auto& [label, text] : files) scripts.push_back(sql::parse(text, label));
    for (std::size_t i = 0; i < files.size(); ++i)
        in.push_back({files[i].first, files[i].second, &scripts[i],
                      files[i].second.find("moonshift:no-transaction") != std::string::npos});
    lint::linter l(cfg, nullptr);
    auto r = l.run(in);
    linted out;
    out.findings = r.findings;
    for (const auto& f : in)
        for (auto& x : lint::transaction_findings(f)) out.findings.push_back(x);
    return out;
}

void expect_rule(linter_fixture& fx, const std::string& rule, const std::string& bad,
                 const std::string& good) {
    auto b = fx.run(bad);
    BOOST_TEST_INFO("rule " << rule << " must trip on: " << bad << "\nfindings:\n" << b.text());
    BOOST_TEST(b.has(rule));
    auto g = fx.run(good);
    BOOST_TEST_INFO("rule " << rule << " must pass: " << good << "\nfindings:\n" << g.text());
    BOOST_TEST(!g.has(rule));
}

}  // namespace moonshift::test
