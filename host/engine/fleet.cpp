// Resolving a fleet's targets: urls, databases on a server, a file, or the
// first column of a query against the control database.
#include "engine/fleet.hpp"

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include "common/error.hpp"
#include "common/text.hpp"
#include "db/session.hpp"

namespace moonshift::engine {
namespace {

std::string config_name(const project::config& cfg) {
    return cfg.file.empty() ? std::string("moonshift.toml") : cfg.file.filename().string();
}

std::string where(const project::config& cfg, const project::fleet_section& f,
                  const std::string& key) {
    auto it = f.lines.find(key);
    return config_name(cfg) + ":" + std::to_string(it == f.lines.end() ? f.line : it->second);
}

bool is_connection_string(const std::string& s) {
    return s.find("://") != std::string::npos || s.find('=') != std::string::npos;
}

// An entry of a list, a file or a query: a connection string, or a database on `server`.
std::string target_url(const project::fleet_section& f, const std::string& server,
                       const std::string& entry, const std::string& at) {
    if (is_connection_string(entry)) return entry;
    if (server.empty())
        throw usage_error(at + ": \"" + text::redact(entry) + "\" is a database name, but [fleet." +
                              f.name + "] has no server",
                          "add server = \"postgresql://user@host/postgres\", or list URLs");
    return db::with_database(server, entry);
}

std::vector<std::string> read_targets_file(const project::config& cfg,
                                           const project::fleet_section& f,
                                           std::vector<std::string>& places) {
    auto path = cfg.root / f.targets_file;
    std::ifstream in(path);
    if (!in)
        throw usage_error(
            where(cfg, f, "targets_file") + ": cannot read targets_file " + path.string(),
            "one target a line: a URL, or a database name on server");
    std::vector<std::string> out;
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        line = text::trim(line);
        if (line.empty() || line[0] == '#') continue;
        out.push_back(line);
        places.push_back(f.targets_file + ":" + std::to_string(n));
    }
    return out;
}

std::vector<std::string> query_targets(const project::config& cfg, const project::fleet_section& f,
                                       const std::string& control_url) {
    if (control_url.empty())
        throw usage_error(where(cfg, f, "targets_sql") + ": [fleet." + f.name +
                              "] targets_sql needs a control database",
                          "set control_url = \"${CONTROL_URL}\" or MOONSHIFT_CONTROL_URL");
    std::vector<std::string> out;
    try {
        db::settings s;
        s.url = control_url;
        db::session control(s);
        auto rows = control.query(f.targets_sql);
        if (rows.columns() < 1)
            throw usage_error(where(cfg, f, "targets_sql") + ": targets_sql returns no column");
        for (const auto& row : rows)
            if (!row[0].is_null()) out.emplace_back(row[0].c_str());
    } catch (const error& e) {
        if (e.code() == exit_code::usage) throw;
        throw usage_error(where(cfg, f, "targets_sql") + ": the targets query of [fleet." + f.name +
                              "] failed: " + text::redact(e.what()),
                          "it runs on control_url and returns one URL or database name a row");
    }
    return out;
}

// Each target once, named by its database; server/database when two share a name.
void name_targets(std::vector<fleet_target>& targets, const std::vector<std::string>& places) {
    std::map<std::string, int> per_name;
    std::set<std::string> seen;
    for (std::size_t i = 0; i < targets.size(); ++i) {
        auto& t = targets[i];
        auto e = db::endpoint_of(t.url);
        t.server =
            (e.host.empty() ? "localhost" : e.host) + ":" + (e.port.empty() ? "5432" : e.port);
        t.name = e.dbname.empty() ? (e.user.empty() ? "postgres" : e.user) : e.dbname;
        if (!seen.insert(t.server + "/" + t.name).second)
            throw usage_error(
                places[i] + ": the target " + t.server + "/" + t.name + " is listed twice",
                "each database is migrated once per fleet run; remove the repeat");
        ++per_name[t.name];
    }
    for (auto& t : targets)
        if (per_name[t.name] > 1) t.name = t.server + "/" + t.name;
}

}  // namespace

const project::fleet_section& find_fleet(const project::config& cfg, const std::string& name) {
    std::string known;
    for (const auto& [n, _] : cfg.fleets) known += (known.empty() ? "" : ", ") + n;
    if (cfg.fleets.empty())
        throw usage_error(config_name(cfg) + " defines no fleet",
                          "add a [fleet.NAME] section with urls = [...] (docs/fleet.md)");
    if (name.empty()) {
        if (cfg.fleets.size() == 1) return cfg.fleets.begin()->second;
        throw usage_error(config_name(cfg) + " defines several fleets; say which one",
                          "fleets: " + known);
    }
    auto it = cfg.fleets.find(name);
    if (it == cfg.fleets.end())
        throw usage_error("fleet \"" + name + "\" is not defined in " + config_name(cfg),
                          "fleets: " + known);
    return it->second;
}

std::vector<fleet_target> fleet_targets(const project::config& cfg,
                                        const project::fleet_section& f) {
    auto vars = project::variables(cfg);
    auto interpolated = [&](const std::string& value, const std::string& key) {
        return project::interpolate(
            value, vars, where(cfg, f, key) + " ([fleet." + f.name + "] " + key + ")", true);
    };
    std::string server = f.server.empty() ? "" : interpolated(f.server, "server");
    std::vector<std::string> entries, places;
    if (!f.urls.empty()) {
        for (const auto& u : f.urls) {
            entries.push_back(interpolated(u, "urls"));
            places.push_back(where(cfg, f, "urls"));
        }
    } else if (!f.databases.empty()) {
        entries = f.databases;
        places.assign(entries.size(), where(cfg, f, "databases"));
    } else if (!f.targets_file.empty()) {
        entries = read_targets_file(cfg, f, places);
    } else {
        std::string control =
            f.control_url.empty() ? "" : interpolated(f.control_url, "control_url");
        if (control.empty())
            if (const char* v = std::getenv("MOONSHIFT_CONTROL_URL")) control = v;
        text::add_secrets_in(control);
        entries = query_targets(cfg, f, control);
        places.assign(entries.size(), where(cfg, f, "targets_sql"));
    }
    if (entries.empty())
        throw usage_error("[fleet." + f.name + "] (" + where(cfg, f, "") +
                              ") has no targets: its list came back empty",
                          "a fleet needs at least one database");
    std::vector<fleet_target> out;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        text::add_secrets_in(entries[i]);
        out.push_back({"", target_url(f, server, entries[i], places[i]), ""});
    }
    name_targets(out, places);
    return out;
}

std::vector<fleet_listing> list_fleets(const project::config& cfg) {
    std::vector<fleet_listing> out;
    for (const auto& [name, f] : cfg.fleets) {
        fleet_listing l;
        l.name = name;
        try {
            l.targets = fleet_targets(cfg, f);
        } catch (const error& e) {
            l.error = text::redact(e.what());
        }
        out.push_back(std::move(l));
    }
    return out;
}

std::vector<std::pair<std::size_t, std::size_t>> fleet_waves(const project::fleet_section& fleet,
                                                             std::size_t targets) {
    std::vector<std::pair<std::size_t, std::size_t>> out;
    std::size_t begin = 0;
    for (auto end : project::wave_ends(fleet.waves, targets)) {
        out.emplace_back(begin, end);
        begin = end;
    }
    return out;
}

}  // namespace moonshift::engine
