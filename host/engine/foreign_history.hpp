// Other tools' history tables kept current beside moonshift's own ([project]
// keep_history, docs/configuration.md): the row drizzle's migrator, Prisma
// Migrate or the Supabase CLI would write for a migration it applied, written
// in the same transaction as moonshift's row and removed with it on `down`.
// history/ owns the moonshift schema only; these tables are the other tools',
// so their one writer lives here, beside import.cpp, which reads them.
#pragma once
#include <string>

#include "catalog/catalog.hpp"
#include "db/session.hpp"

namespace moonshift::engine::foreign {

// Throws usage_error when `tool`'s table cannot be kept for this catalog
// (drizzle's needs drizzle-kit's folder, Prisma's its migrations folder;
// Supabase's takes the Supabase layout, drizzle-kit's or moonshift's own).
void check_keepable(const std::string& tool, const catalog::catalog& cat);

// Creates the tool's history table when it is missing, as the tool would
// (the Supabase CLI's columns added to an older table too).
void ensure_table(db::session& s, const std::string& tool);

// The statements that record `m` as applied in the tool's table, and that
// take it back after `down` (Prisma: rolled_back_at is set, as `prisma
// migrate resolve --rolled-back` does; the others: the row is deleted).
std::string applied_sql(const std::string& tool, const catalog::migration& m);
std::string reverted_sql(const std::string& tool, const catalog::migration& m);

}  // namespace moonshift::engine::foreign
