// Adopting a database another tool migrated: its history table is read (never
// written) and the same migrations are recorded as applied in moonshift's
// history, with the checksums of the files on disk. Nothing is re-applied.
#pragma once
#include <string>
#include <vector>

#include "engine/engine.hpp"

namespace moonshift::engine {

struct import_options {
    std::string from;   // a format with a history table (catalog/format_table.hpp)
    std::string table;  // the tool's history table when not its default ("schema.table")
    bool dry_run = false;
};

// The tools `import --from` reads, with their default history tables (the
// format table's entries that have one, in its order).
const std::vector<std::pair<std::string, std::string>>& import_sources();

// report: imported [{version, name}], already_recorded, not_on_disk
// [{version, detail}], not_in_database [{version, name, file}], changed_on_disk
// [{version, file, detail}], repeatables [{name, state}], table.
outcome import_history(engine& e, const import_options& o);

}  // namespace moonshift::engine
