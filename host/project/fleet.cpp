// [fleet.NAME] in moonshift.toml: one section per fleet, checked as it is
// read (one source of targets, waves that make sense, a known environment),
// every failure naming moonshift.toml and the line.
#include "project/fleet.hpp"

#include <cmath>
#include <cstdlib>
#include <stdexcept>

#include "common/error.hpp"
#include "project/config_reader.hpp"

namespace moonshift::project {

fleet_wave parse_wave(const std::string& text) {
    fleet_wave w;
    w.text = text;
    std::string number = text;
    if (!number.empty() && number.back() == '%') {
        w.percent = true;
        number.pop_back();
    }
    bool digits = !number.empty();
    int dots = 0;
    for (char c : number) {
        dots += c == '.';
        digits = digits && (std::isdigit(static_cast<unsigned char>(c)) || c == '.');
    }
    if (!digits || dots > (w.percent ? 1 : 0))
        throw std::invalid_argument("\"" + text +
                                    "\" is neither a number of targets (\"1\") nor a share "
                                    "of them (\"10%\")");
    w.value = std::strtod(number.c_str(), nullptr);
    if (w.value <= 0)
        throw std::invalid_argument("\"" + text +
                                    "\" is an empty wave: a wave needs 1 or more "
                                    "targets, or more than 0%");
    if (w.percent && w.value > 100)
        throw std::invalid_argument("\"" + text + "\" is more than every target");
    return w;
}

std::vector<std::size_t> wave_ends(const std::vector<fleet_wave>& waves, std::size_t n) {
    std::vector<std::size_t> ends;
    std::size_t prev = 0;
    for (const auto& w : waves) {
        double want = w.percent ? std::ceil(w.value * static_cast<double>(n) / 100.0) : w.value;
        std::size_t end = want >= static_cast<double>(n) ? n : static_cast<std::size_t>(want);
        if (end > prev) ends.push_back(prev = end);
    }
    if (prev < n) ends.push_back(n);
    return ends;
}

namespace detail {
namespace {

const std::set<std::string> fleet_keys = {"urls",        "server",      "databases", "targets_file",
                                          "targets_sql", "control_url", "waves",     "on_failure",
                                          "jobs",        "connections", "env"};

std::vector<fleet_wave> read_waves(const reader& r, const toml::node& n) {
    auto* a = n.as_array();
    if (!a || a->empty())
        r.fail(n.source(), "\"waves\" must be a list of wave sizes",
               "for example waves = [\"1\", \"10%\", \"100%\"]: a canary, a tenth, the rest");
    std::vector<fleet_wave> out;
    for (auto&& item : *a) {
        std::string text;
        if (auto i = item.value<int64_t>(); i && item.is_integer())
            text = std::to_string(*i);
        else
            text = r.string_of(item, "waves");
        try {
            out.push_back(parse_wave(text));
        } catch (const std::invalid_argument& e) {
            r.fail(item.source(), std::string("bad wave ") + e.what(),
                   "a wave is a number of targets (\"1\") or a share of them (\"10%\"), "
                   "counted from the first target: waves = [\"1\", \"10%\", \"100%\"]");
        }
        // Entries of the same kind must grow; a count after a share depends on the fleet.
        for (const auto& before : out)
            if (before.percent == out.back().percent && before.value > out.back().value)
                r.fail(item.source(),
                       "bad wave \"" + text + "\": it ends before \"" + before.text + "\" does",
                       "each wave says where it ends, counted from the first target, so "
                       "the entries grow: [\"1\", \"10%\", \"100%\"]");
    }
    return out;
}

// Exactly one source of targets, and none of them empty.
void check_source(const reader& r, const toml::node& section, const fleet_section& f) {
    int sources =
        !f.urls.empty() + !f.databases.empty() + !f.targets_file.empty() + !f.targets_sql.empty();
    std::string where = "[fleet." + f.name + "]";
    for (const char* key : {"urls", "databases"})
        if (f.lines.count(key) && ((key == std::string("urls") ? f.urls : f.databases).empty()))
            throw usage_error(r.file + ":" + std::to_string(f.lines.at(key)) + ": " + where +
                                  " is empty: " + key + " lists no target",
                              "list the databases to migrate, or remove the section");
    if (sources == 0)
        r.fail(section.source(), where + " names no targets",
               "give urls = [...], server = URL with databases = [...], targets_file = "
               "\"tenants.txt\", or targets_sql = \"select url from tenants\"");
    if (sources > 1)
        r.fail(section.source(), where + " names its targets more than one way",
               "keep one of urls, databases, targets_file and targets_sql");
    if (!f.databases.empty() && f.server.empty())
        r.fail(section.source(), where + " lists databases but no server",
               "add server = \"postgresql://user@host:5432/postgres\": the databases are on it");
    if (!f.control_url.empty() && f.targets_sql.empty())
        r.fail(section.source(), where + ": control_url is only read with targets_sql");
}

fleet_section read_fleet(const reader& r, const toml::key& key, const toml::node& value,
                         const config& cfg) {
    fleet_section f;
    f.name = std::string(key.str());
    f.line = static_cast<int>(key.source().begin.line);
    auto* t = value.as_table();
    if (!t) r.fail(key.source(), "\"" + f.name + "\" must be a table: [fleet." + f.name + "]");
    r.check_keys(*t, fleet_keys, "fleet." + f.name);
    for (auto&& [k, v] : *t)
        f.lines[std::string(k.str())] = static_cast<int>(v.source().begin.line);
    if (auto* n = t->get("urls")) f.urls = r.strings_of(*n, "urls");
    if (auto* n = t->get("server")) f.server = r.string_of(*n, "server");
    if (auto* n = t->get("databases")) f.databases = r.strings_of(*n, "databases");
    if (auto* n = t->get("targets_file")) f.targets_file = r.string_of(*n, "targets_file");
    if (auto* n = t->get("targets_sql")) f.targets_sql = r.string_of(*n, "targets_sql");
    if (auto* n = t->get("control_url")) f.control_url = r.string_of(*n, "control_url");
    if (auto* n = t->get("waves")) f.waves = read_waves(r, *n);
    if (auto* n = t->get("on_failure")) {
        f.on_failure = r.string_of(*n, "on_failure");
        if (f.on_failure != "stop" && f.on_failure != "rollback")
            r.fail(n->source(),
                   "on_failure must be \"stop\" or \"rollback\", not \"" + f.on_failure + "\"",
                   "\"rollback\" rolls the failed wave back with `down` (docs/fleet.md)");
    }
    for (auto [name, slot] : {std::pair{"jobs", &f.jobs}, std::pair{"connections", &f.connections}})
        if (auto* n = t->get(name)) {
            *slot = r.count_of(*n, name);
            if (*slot < 1) r.fail(n->source(), std::string("\"") + name + "\" must be 1 or more");
        }
    if (auto* n = t->get("env")) {
        f.env = r.string_of(*n, "env");
        if (!cfg.envs.count(f.env))
            r.fail(n->source(), "env = \"" + f.env + "\" is not an [env.*] section",
                   "the fleet's targets run with that environment's settings");
    }
    check_source(r, value, f);
    return f;
}

}  // namespace

void read_fleets(const reader& r, const toml::node& n, config& cfg) {
    auto* fleets = n.as_table();
    if (!fleets)
        r.fail(n.source(), "[fleet] must be a table of fleets",
               "for example [fleet.tenants] with urls = [...]");
    for (auto&& [k, v] : *fleets) cfg.fleets[std::string(k.str())] = read_fleet(r, k, v, cfg);
}

}  // namespace detail
}  // namespace moonshift::project
