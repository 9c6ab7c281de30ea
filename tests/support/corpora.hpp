// Real histories for tests (../shared/corpora, or $MOONSHIFT_CORPORA), the
// precondition that skips a test where one is absent, and the normalised
// `pg_dump --schema-only` that round-trip tests compare.
#pragma once
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <string>

namespace moonshift::test {

std::filesystem::path corpora();

// *boost::unit_test::precondition(corpus_present{"authelia"})
struct corpus_present {
    std::string name;
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const;
};

// pg_dump --schema-only of the database at url, without moonshift's own
// schema and without what differs between two dumps of one schema (the
// \restrict key of recent pg_dump versions, the version banner).
std::string schema_dump(const std::string& url, const std::filesystem::path& cwd);

}  // namespace moonshift::test
