// The shop every backup test starts from: users (1,000 rows: NULL emails,
// unicode, tabs and newlines, a serial key) and orders referencing them, all
// applied; in either backup store.
#pragma once
#include <string>
#include <vector>

#include "support/project.hpp"

namespace moonshift::test {

struct shop : project {
    // in_database: the environment keeps backups in the target database
    // (backup_store = "database") instead of files.
    explicit shop(bool in_database = false, const std::string& extra = "");
    bool in_db;
    // What an [env.test] block needs to keep the same store, for tests that
    // rewrite moonshift.toml.
    std::string store_setting() const;
};

// Every row of the table, in key order, as text: compared row by row.
std::vector<std::string> rows_of(const project& p, const std::string& table,
                                 const std::string& order = "id");

}  // namespace moonshift::test
