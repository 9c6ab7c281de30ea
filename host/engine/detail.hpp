// Small helpers the engine's step files share: elapsed time and the JSON
// that names a migration in events.
#pragma once
#include <chrono>
#include <nlohmann/json.hpp>

#include "catalog/catalog.hpp"

namespace moonshift::engine::detail {

inline long long ms_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 t)
        .count();
}

// {version, name, checksum, form, file}: what migration.start and
// migration.applied say about a migration.
inline nlohmann::json describe(const catalog::migration& m) {
    return {{"version", m.version},
            {"name", m.name},
            {"checksum", m.checksum},
            {"form", catalog::form_name(m.kind)},
            {"file", m.up_label}};
}

}  // namespace moonshift::engine::detail
