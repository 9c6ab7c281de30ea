// [fleet.NAME]: a set of databases that `moonshift fleet` migrates as one
// (docs/fleet.md): where its targets come from, the waves, what a failure
// does, and how many targets run at once. Only the settings as written:
// engine/fleet.hpp resolves the targets (a control database, a file).
#pragma once
#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace moonshift::project {

// One entry of `waves`: a number of targets ("1") or a share of them
// ("10%"), counted from the start of the list: a wave ends where its entry
// says, so ["1", "10%", "100%"] is a canary, then up to a tenth, then the rest.
struct fleet_wave {
    std::string text;  // as written
    bool percent = false;
    double value = 0;  // targets, or percent (0 < value <= 100)
};

struct fleet_section {
    std::string name;
    int line = 0;                      // where [fleet.NAME] starts
    std::map<std::string, int> lines;  // the line of each key, for messages
    // Where the targets come from: exactly one of urls, databases (on
    // server), targets_file, targets_sql (on control_url). An entry of a
    // file or a query without "://" or "=" is a database name on server.
    std::vector<std::string> urls;  // as written: ${VAR} is interpolated when resolved
    std::string server;
    std::vector<std::string> databases;
    std::string targets_file;         // relative to moonshift.toml, one target a line, # comments
    std::string targets_sql;          // its first column, in the order it returns
    std::string control_url;          // default: $MOONSHIFT_CONTROL_URL
    std::vector<fleet_wave> waves;    // empty: one wave of every target
    std::string on_failure = "stop";  // "stop" | "rollback" (the failed wave is rolled back)
    int jobs = 0;                     // targets at once; 0: the command's -j, else 4
    int connections = 0;              // targets at once per server; 0: 10
    std::string env;  // the [env.NAME] whose settings every target runs with; "" none
};

// The end of each wave over n targets (cumulative, increasing, the last n):
// an entry that adds no target (10% of 5 after "1") is left out, and a list
// that stops short of n gets a last wave with the rest.
std::vector<std::size_t> wave_ends(const std::vector<fleet_wave>& waves, std::size_t n);

// Reads a wave entry ("1", "10%", "2.5%"); throws std::invalid_argument
// saying what is wrong ("0%", "abc", "150%").
fleet_wave parse_wave(const std::string& text);

}  // namespace moonshift::project
