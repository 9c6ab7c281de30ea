// Planning: which migrations are applied, pending, changed, missing.
#include "engine/plan.hpp"

#include <map>

namespace moonshift::engine {

const char* state_name(state s) {
    switch (s) {
        case state::applied:
            return "applied";
        case state::pending:
            return "pending";
        case state::out_of_order:
            return "out of order";
        case state::changed:
            return "changed";
        case state::missing:
            return "missing";
    }
    return "?";
}

plan make_plan(std::shared_ptr<const catalog::catalog> files,
               const std::vector<history::applied>& rows) {
    plan p;
    p.files = files;
    const auto& cat = *files;
    std::map<std::string, const history::applied*> by_key;
    std::string highest;  // highest applied version
    for (const auto& r : rows) {
        by_key[catalog::version_key(r.version)] = &r;
        if (highest.empty() || cat.compare(r.version, highest) > 0) highest = r.version;
    }
    for (const auto& m : cat.migrations) {
        entry e{m.version, m.name, state::pending, &m, std::nullopt};
        auto it = by_key.find(catalog::version_key(m.version));
        if (it != by_key.end()) {
            e.row = *it->second;
            // A baseline row has no checksum to compare: it stands for history
            // that happened before moonshift.
            // A row recorded when the checksum covered the down script too
            // still matches by that rule.
            e.st = (it->second->how == "baseline" || it->second->checksum == m.checksum ||
                    (!m.legacy_checksum.empty() && it->second->checksum == m.legacy_checksum))
                       ? state::applied
                       : state::changed;
            by_key.erase(it);
        } else if (!highest.empty() && cat.compare(m.version, highest) < 0) {
            e.st = state::out_of_order;
        }
        p.entries.push_back(std::move(e));
    }
    for (auto& [key, r] : by_key)
        p.entries.push_back({r->version, r->name, state::missing, nullptr, *r});
    std::stable_sort(p.entries.begin(), p.entries.end(), [&cat](const entry& a, const entry& b) {
        return cat.compare(a.version, b.version) < 0;
    });
    return p;
}

std::vector<const entry*> plan::with(state s) const {
    std::vector<const entry*> out;
    for (const auto& e : entries)
        if (e.st == s) out.push_back(&e);
    return out;
}

std::vector<const entry*> plan::to_apply(bool include_out_of_order) const {
    std::vector<const entry*> out;
    for (const auto& e : entries)
        if (e.st == state::pending || (include_out_of_order && e.st == state::out_of_order))
            out.push_back(&e);
    return out;
}

std::vector<const entry*> plan::applied_desc() const {
    std::vector<const entry*> out;
    for (auto it = entries.rbegin(); it != entries.rend(); ++it)
        if (it->row) out.push_back(&*it);
    return out;
}

}  // namespace moonshift::engine
