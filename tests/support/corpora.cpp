// Corpora and schema dumps for tests (corpora.hpp).
#include "support/corpora.hpp"

#include <cstdlib>
#include <sstream>

#include "local/cluster.hpp"
#include "support/harness.hpp"

namespace moonshift::test {
namespace fs = std::filesystem;

fs::path corpora() {
    if (const char* e = std::getenv("MOONSHIFT_CORPORA"); e && *e) return e;
    return fs::path(MOONSHIFT_SOURCE_DIR) / ".." / "shared" / "corpora";
}

boost::test_tools::assertion_result corpus_present::operator()(
    boost::unit_test::test_unit_id) const {
    boost::test_tools::assertion_result r(fs::is_directory(corpora() / name));
    if (!r)
        r.message() << "corpus " << (corpora() / name).string()
                    << " is absent (set MOONSHIFT_CORPORA): skipped";
    return r;
}

std::string schema_dump(const std::string& url, const fs::path& cwd) {
    auto pg_dump = fs::path(local::cluster::find_bin_dir()) / "pg_dump";
    auto r = run_program(pg_dump.string(),
                         {"--schema-only", "--exclude-schema=moonshift", "--dbname", url}, cwd);
    BOOST_TEST_INFO(r.err);
    BOOST_REQUIRE(r.exit_code == 0);
    std::istringstream in(r.out);
    std::string line, out;
    while (std::getline(in, line)) {
        if (line.rfind("\\restrict", 0) == 0 || line.rfind("\\unrestrict", 0) == 0) continue;
        if (line.rfind("-- Dumped from", 0) == 0 || line.rfind("-- Dumped by", 0) == 0) continue;
        out += line + "\n";
    }
    return out;
}

}  // namespace moonshift::test
