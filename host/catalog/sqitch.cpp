// Sqitch: sqitch.plan (pragmas, changes with [dependencies], @tags, reworked
// changes) and the deploy/, revert/, verify/ scripts it names. Changes are
// numbered 1, 2, … in deploy order, which is plan order unless a change
// requires one written after it (Sqitch sorts those, and so does this).
#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <queue>
#include <set>

#include "catalog/formats.hpp"
#include "common/error.hpp"
#include "common/text.hpp"

namespace moonshift::catalog {
namespace fs = std::filesystem;

namespace {

struct change {
    std::string name;
    int line = 0;
    std::vector<std::string> requires_, conflicts;
    std::vector<std::string> tags;  // tags written after it, before the next change
};

struct plan {
    std::string project;
    std::vector<change> changes;  // in plan order
    std::string label;            // "sqitch.plan" relative to the project
};

// One plan line, read by hand (a std::regex here recursed once per character and a
// long line overflowed the stack). A tag: @name rest. A change: [+-]name [deps] rest.
struct plan_line {
    std::string sign, name, deps;
};

bool name_char(char c, const char* excluded) {
    return !std::isspace(static_cast<unsigned char>(c)) && !std::strchr(excluded, c);
}

std::optional<std::string> tag_of(const std::string& line) {
    std::size_t e = 1;
    while (e < line.size() && name_char(line[e], "#@:")) ++e;
    if (line[0] != '@' || e == 1) return std::nullopt;
    return line.substr(1, e - 1);
}

std::optional<plan_line> change_of(const std::string& line) {
    plan_line out;
    std::size_t p = 0;
    if (!line.empty() && (line[0] == '+' || line[0] == '-')) out.sign = line.substr(p++, 1);
    std::size_t e = p;
    while (e < line.size() && name_char(line[e], "[]#@:%")) ++e;
    if (e == p) return std::nullopt;
    out.name = line.substr(p, e - p);
    while (e < line.size() && std::isspace(static_cast<unsigned char>(line[e]))) ++e;
    if (e < line.size() && line[e] == '[') {
        auto close = line.find(']', e);
        if (close != std::string::npos) out.deps = line.substr(e + 1, close - e - 1);
    }
    return out;
}

plan parse_plan(const fs::path& file, const std::string& label) {
    plan p;
    p.label = label;
    std::string content = read_checked(file, label);
    int line_no = 0;
    std::size_t pos = 0;
    while (pos < content.size()) {
        auto nl = content.find('\n', pos);
        std::string line =
            text::trim(content.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
        pos = nl == std::string::npos ? content.size() : nl + 1;
        ++line_no;
        auto where = label + ":" + std::to_string(line_no);
        if (line.empty() || line[0] == '#') continue;
        if (line[0] == '%') {
            auto eq = line.find('=');
            if (eq != std::string::npos && text::trim(line.substr(1, eq - 1)) == "project")
                p.project = text::trim(line.substr(eq + 1));
            continue;
        }
        if (auto tag = tag_of(line)) {
            if (p.changes.empty())
                throw usage_error(where + ": a tag before any change",
                                  "tags follow the change they mark");
            p.changes.back().tags.push_back(*tag);
            continue;
        }
        auto m = change_of(line);
        if (!m)
            throw usage_error(where + ": not a change, tag or pragma",
                              "a change reads: name [deps] date planner <email> # note");
        if (m->sign == "-")
            throw usage_error(where + ": \"-" + m->name +
                                  "\" (a change marked reverted in the plan) is not supported",
                              "remove the line, or deploy this plan with sqitch");
        change c;
        c.name = m->name;
        c.line = line_no;
        std::string deps = m->deps;
        for (std::size_t i = 0; i < deps.size();) {
            auto start = deps.find_first_not_of(" \t", i);
            if (start == std::string::npos) break;
            auto end = deps.find_first_of(" \t", start);
            std::string d =
                deps.substr(start, end == std::string::npos ? std::string::npos : end - start);
            i = end == std::string::npos ? deps.size() : end;
            if (d[0] == '!')
                c.conflicts.push_back(d.substr(1));
            else
                c.requires_.push_back(d);
        }
        p.changes.push_back(std::move(c));
    }
    if (p.changes.empty())
        throw usage_error(label + ": the plan has no changes", "sqitch add NAME");
    return p;
}

// Deploy order: dependencies first, otherwise plan order. A cycle is an
// error naming the changes and their lines.
std::vector<int> deploy_order(const plan& p, const std::vector<std::vector<int>>& deps) {
    int n = static_cast<int>(p.changes.size());
    std::vector<int> indegree(n, 0);
    std::vector<std::vector<int>> users(n);
    for (int i = 0; i < n; ++i)
        for (int d : deps[i]) {
            ++indegree[i];
            users[d].push_back(i);
        }
    std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
    for (int i = 0; i < n; ++i)
        if (indegree[i] == 0) ready.push(i);
    std::vector<int> order;
    while (!ready.empty()) {
        int i = ready.top();
        ready.pop();
        order.push_back(i);
        for (int u : users[i])
            if (--indegree[u] == 0) ready.push(u);
    }
    if (static_cast<int>(order.size()) == n) return order;
    // Walk dependencies from a change left over until one repeats: that is the cycle.
    int at = 0;
    while (indegree[at] == 0) ++at;
    std::vector<int> path;
    std::map<int, std::size_t> seen;
    while (!seen.count(at)) {
        seen[at] = path.size();
        path.push_back(at);
        for (int d : deps[at])
            if (indegree[d] > 0) {
                at = d;
                break;
            }
    }
    std::string cycle;
    for (std::size_t k = seen[at]; k < path.size(); ++k)
        cycle += p.changes[path[k]].name + " (line " + std::to_string(p.changes[path[k]].line) +
                 ") requires ";
    cycle += p.changes[at].name;
    throw usage_error(p.label + ": dependency cycle: " + cycle,
                      "one of these changes must not require the other");
}

// The file of one script of a change: deploy/name.sql for the change's last
// occurrence; an earlier (reworked) one has deploy/name@TAG.sql, TAG being
// the first tag after it with such a file (Sqitch's own rule).
fs::path script_path(const fs::path& dir, const std::string& kind, const std::string& name,
                     const std::vector<std::string>& rework_tags) {
    if (rework_tags.empty()) return dir / kind / (name + ".sql");
    for (auto& t : rework_tags)
        if (fs::exists(dir / kind / (name + "@" + t + ".sql")))
            return dir / kind / (name + "@" + t + ".sql");
    return dir / kind / (name + "@" + rework_tags.front() + ".sql");
}

// Where each name occurs in the plan, and after which change each tag is.
struct plan_index {
    std::map<std::string, std::vector<int>> occurrences;
    std::map<std::string, int> tag_at;  // tag → index of the change it follows
};

plan_index index_of(const plan& p) {
    plan_index ix;
    for (int i = 0; i < static_cast<int>(p.changes.size()); ++i) {
        ix.occurrences[p.changes[i].name].push_back(i);
        for (auto& t : p.changes[i].tags) ix.tag_at[t] = i;
    }
    return ix;
}

// Rework tags: the tags between an occurrence of a name and its next one.
std::vector<std::vector<std::string>> rework_tags(const plan& p, const plan_index& ix) {
    std::vector<std::vector<std::string>> rework(p.changes.size());
    for (auto& [name, idx] : ix.occurrences)
        for (std::size_t k = 0; k + 1 < idx.size(); ++k) {
            for (int j = idx[k]; j < idx[k + 1]; ++j)
                for (auto& t : p.changes[j].tags) rework[idx[k]].push_back(t);
            if (rework[idx[k]].empty())
                throw usage_error(p.label + ":" + std::to_string(p.changes[idx[k + 1]].line) +
                                      ": \"" + name + "\" is reworked without a tag since line " +
                                      std::to_string(p.changes[idx[k]].line),
                                  "tag the plan (sqitch tag) before reworking a change");
        }
    return rework;
}

// The plan index a dependency `d` of change i names; -1 when it is another
// project's (noted in `notes`).
int resolve(const plan& p, const plan_index& ix, int i, std::string d,
            std::vector<std::string>& notes) {
    auto& c = p.changes[i];
    auto where = p.label + ":" + std::to_string(c.line);
    if (auto colon = d.find(':'); colon != std::string::npos) {
        if (d.substr(0, colon) != p.project) {
            notes.push_back(where + ": \"" + c.name + "\" requires " + d +
                            " from another Sqitch project; moonshift does not check it");
            return -1;
        }
        d = d.substr(colon + 1);
    }
    std::string name = d, tag;
    if (auto at = d.find('@'); at != std::string::npos) {
        name = d.substr(0, at);
        tag = d.substr(at + 1);
    }
    auto occ = ix.occurrences.find(name);
    if (occ == ix.occurrences.end())
        throw usage_error(
            where + ": \"" + c.name + "\" requires \"" + d + "\", which is not in the plan",
            "fix the name, or add the change with sqitch add");
    int target = -1;
    if (!tag.empty()) {
        auto t = ix.tag_at.find(tag);
        if (t == ix.tag_at.end())
            throw usage_error(where + ": \"" + c.name + "\" requires \"" + d +
                              "\", but there is no tag @" + tag);
        for (int o : occ->second)
            if (o <= t->second) target = o;
    } else {
        for (int o : occ->second)
            if (o < i) target = o;
        if (target < 0) target = occ->second.front();  // written later: deployed first
    }
    if (target < 0 || target == i)
        throw usage_error(where + ": \"" + c.name + "\" requires \"" + d +
                          "\", which is not deployed before it");
    return target;
}

// A change deployed after one it conflicts with is an error naming both lines.
void check_conflicts(const plan& p, const plan_index& ix, const std::vector<int>& order) {
    int n = static_cast<int>(p.changes.size());
    std::vector<int> position(n);
    for (int k = 0; k < n; ++k) position[order[k]] = k;
    for (int i = 0; i < n; ++i)
        for (auto& x : p.changes[i].conflicts) {
            auto occ = ix.occurrences.find(x);
            if (occ == ix.occurrences.end()) continue;
            for (int o : occ->second)
                if (position[o] < position[i])
                    throw usage_error(p.label + ":" + std::to_string(p.changes[i].line) + ": \"" +
                                      p.changes[i].name + "\" conflicts with \"" + x +
                                      "\", which the plan deploys before it (line " +
                                      std::to_string(p.changes[o].line) + ")");
        }
}

// Sqitch's templates wrap each script in a transaction (the verify script in
// one it rolls back). That one transaction becomes moonshift's, so the
// change, its verification and the history row commit together.
void unwrap_scripts(migration& m) {
    unwrap_transaction(m.up_sql, false);
    if (!m.down.empty()) unwrap_transaction(m.down_sql, false);
    if (!m.verify_sql.empty() && !unwrap_transaction(m.verify_sql, true) &&
        m.verify_sql.find_first_not_of(" \t\n") != std::string::npos &&
        controls_transactions(m.verify_sql, m.verify_label))
        // A verify script with its own transactions cannot run inside the
        // change's: the change then runs outside one (engine.cpp).
        m.dir.own_transaction = true;
    if (!has_sql(m.verify_sql)) m.verify_sql.clear();
}

// The k-th change in deploy order, with its deploy, revert and verify scripts.
migration read_change(const format& f, const fs::path& dir, const fs::path& root, const plan& p,
                      const change& c, const std::vector<std::string>& rework, int k) {
    migration m;
    m.version = std::to_string(k + 1);
    m.name = c.name;
    m.kind = form::sql;
    m.up = script_path(dir, "deploy", c.name, rework);
    m.up_label = rel_label(m.up, root);
    if (!fs::exists(m.up))
        throw usage_error(p.label + ":" + std::to_string(c.line) + ": change \"" + c.name +
                              "\" has no deploy script " + m.up_label,
                          "write the script, or remove the change from the plan");
    std::string deploy = read_checked(m.up, m.up_label);
    m.up_sql = deploy;
    m.dir = read_directives(deploy, m.up_label);
    std::string revert, verify;
    if (auto r = script_path(dir, "revert", c.name, rework); fs::exists(r)) {
        m.down = r;
        m.down_label = rel_label(r, root);
        revert = read_checked(r, m.down_label);
        m.down_sql = revert;
        m.down_has_sql = has_sql(revert);
    }
    if (auto v = script_path(dir, "verify", c.name, rework); fs::exists(v)) {
        m.verify_label = rel_label(v, root);
        verify = read_checked(v, m.verify_label);
        m.verify_sql = verify;
    }
    unwrap_scripts(m);
    m.checksum =
        text::sha256_hex("deploy " + text::sha256_hex(deploy) + "\nrevert " +
                         text::sha256_hex(revert) + "\nverify " + text::sha256_hex(verify) + "\n");
    // psql runs a script without a transaction statement by statement, so
    // Sqitch deploys CREATE INDEX CONCURRENTLY as it is (f.no_tx).
    classify_transactions(m, f);
    return m;
}

}  // namespace

catalog read_sqitch(const format& f, const fs::path& dir, const fs::path& root) {
    auto plan_file = dir / f.marker_file;
    auto p = parse_plan(plan_file, rel_label(plan_file, root));
    int n = static_cast<int>(p.changes.size());
    auto ix = index_of(p);
    auto rework = rework_tags(p, ix);
    catalog cat;
    cat.format = f.name;
    cat.project = p.project;                // its history rows' key
    std::vector<std::vector<int>> deps(n);  // dependencies as plan indexes
    for (int i = 0; i < n; ++i)
        for (auto& d : p.changes[i].requires_)
            if (int target = resolve(p, ix, i, d, cat.notes); target >= 0)
                deps[i].push_back(target);
    auto order = deploy_order(p, deps);
    check_conflicts(p, ix, order);
    for (int k = 0; k < n; ++k)
        cat.migrations.push_back(
            read_change(f, dir, root, p, p.changes[order[k]], rework[order[k]], k));
    return cat;
}

// The project name, for reading Sqitch's registry.
std::string sqitch_project(const format& f, const fs::path& dir) {
    std::ifstream in(dir / f.marker_file);
    std::string line;
    while (std::getline(in, line)) {
        auto t = text::trim(line);
        if (t.rfind("%project=", 0) == 0) return text::trim(t.substr(9));
    }
    return "";
}

}  // namespace moonshift::catalog
