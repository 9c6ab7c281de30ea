// What restore needs to recreate a table: columns, constraints, indexes,
// sequences, row level security and policies, triggers, grants, comment.
// Takes $1, the table (regclass text); one row, one jsonb text, or no row
// when the table is gone.
#pragma once

namespace moonshift::backup {

extern const char* const definition_sql;

}  // namespace moonshift::backup
