// A fleet's targets resolved (docs/fleet.md): the databases of a
// [fleet.NAME] section in the order listed, from moonshift.toml, a file, or
// a query against a control database; and the waves they run in. Read only:
// `moonshift fleet` runs each target as its own `up`, and the dashboard
// lists the fleets with the same reader.
#pragma once
#include <string>
#include <vector>

#include "project/config.hpp"

namespace moonshift::engine {

struct fleet_target {
    std::string name;    // the database ("tenant_007"), or server/database when names repeat
    std::string url;     // with its password: never printed, never on a command line
    std::string server;  // host:port, the key of the connections budget
};

// The [fleet.NAME] section `name` names, or the only one when name is "".
// Unknown or ambiguous: usage_error naming moonshift.toml and the fleets.
const project::fleet_section& find_fleet(const project::config& cfg, const std::string& name);

// The targets of a fleet, in the order listed. A target listed twice, an
// empty list, a file that cannot be read, a control query that fails: a
// usage error naming where (moonshift.toml:line, the file:line). Every
// password is registered as a secret before anything could print it.
std::vector<fleet_target> fleet_targets(const project::config& cfg,
                                        const project::fleet_section& fleet);

// For the dashboard: every fleet with its targets, or why they could not be
// resolved (a message free of passwords).
struct fleet_listing {
    std::string name;
    std::vector<fleet_target> targets;
    std::string error;
};
std::vector<fleet_listing> list_fleets(const project::config& cfg);

// The targets of each wave: [begin, end) index ranges into the target list.
std::vector<std::pair<std::size_t, std::size_t>> fleet_waves(const project::fleet_section& fleet,
                                                             std::size_t targets);

}  // namespace moonshift::engine
