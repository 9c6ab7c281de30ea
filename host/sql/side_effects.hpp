// Side effects a rollback cannot undo, read from a statement's parse tree:
// calls that end other sessions, reach other databases or the server's files
// and programs, and COPY to or from a file or program. `plan` does not
// rehearse a migration that has one (it would happen for real), and the
// read-only phases refuse them.
#pragma once
#include <string>
#include <vector>

#include "sql/sql.hpp"

namespace moonshift::sql {

// One phrase per side effect, in the order found: "pg_terminate_backend()",
// "dblink_exec()", "COPY … PROGRAM", "COPY … TO a server file". Needs the
// statement's tree (parse with trees); none without one.
std::vector<std::string> irreversible_effects(const statement& s);

// What the read-only phases refuse: the irreversible effects above, and also
// reading the server's files (pg_read_file(), pg_ls_dir(), COPY … FROM a server
// file), any dblink function, and DO blocks (their body is a string whose calls
// the tree does not show). A call through a function the statement names by
// another name is not seen: the parse tree shows only the call itself.
std::vector<std::string> server_access(const statement& s);

}  // namespace moonshift::sql
