// Reading what a statement does from its libpg_query tree.
#include "sql/facts.hpp"

#include <algorithm>
#include <set>

namespace moonshift::sql {
namespace {

using json = nlohmann::json;

const json& field(const json& node, const char* name) {
    static const json missing;
    if (!node.is_object()) return missing;
    auto it = node.find(name);
    return it == node.end() ? missing : *it;
}

std::string str(const json& node, const char* name) {
    const auto& v = field(node, name);
    return v.is_string() ? v.get<std::string>() : std::string();
}

bool flag(const json& node, const char* name) {
    const auto& v = field(node, name);
    return v.is_boolean() && v.get<bool>();
}

// Every RangeVar below node: typed fields hold it bare ({"relname": ...}),
// lists wrap it ({"RangeVar": {...}}).
void collect_range_vars(const json& node, std::vector<const json*>& out) {
    if (node.is_object()) {
        if (node.contains("relname") && node["relname"].is_string()) {
            out.push_back(&node);
            return;
        }
        for (auto it = node.begin(); it != node.end(); ++it) collect_range_vars(*it, out);
    } else if (node.is_array()) {
        for (const auto& item : node) collect_range_vars(item, out);
    }
}

const json& unwrap(const json& node, const char* kind) {
    const auto& inner = field(node, kind);
    return inner.is_null() ? node : inner;
}

class reader {
  public:
    explicit reader(facts& f) : f_(f) {}

    void target(const json& range_var, const std::string& role) {
        const auto& rv = unwrap(range_var, "RangeVar");
        if (!rv.is_object() || !rv.contains("relname")) return;
        auto r = relation_of(rv, role);
        seen_.insert(r.location);
        f_.relations.push_back(r);
    }
    void named(const std::string& qualified, const std::string& role) {
        relation r;
        auto dot = qualified.rfind('.');
        r.schema = dot == std::string::npos ? "" : qualified.substr(0, dot);
        r.name = dot == std::string::npos ? qualified : qualified.substr(dot + 1);
        r.role = role;
        f_.relations.push_back(r);
    }
    void lock(const std::string& table, lock_mode mode) {
        for (auto& l : f_.locks)
            if (l.table == table) {
                l.mode = std::max(l.mode, mode);
                return;
            }
        f_.locks.push_back({table, mode});
    }
    void at_risk(const std::string& table, const std::string& why) {
        if (!why.empty()) f_.destructive.push_back(why);
        if (std::find(f_.at_risk.begin(), f_.at_risk.end(), table) == f_.at_risk.end())
            f_.at_risk.push_back(table);
    }
    void reads(const json& tree) {
        std::vector<const json*> all;
        collect_range_vars(tree, all);
        for (const auto* rv : all) {
            auto r = relation_of(*rv, "read");
            if (seen_.insert(r.location).second) f_.relations.push_back(r);
        }
    }

  private:
    facts& f_;
    std::set<std::size_t> seen_;
};

std::string name_of(const json& rv) { return relation_of(unwrap(rv, "RangeVar"), "").qualified(); }

void read_alter_table(const json& n, reader& r, facts& f) {
    auto table = name_of(field(n, "relation"));
    bool index = str(n, "objtype") == "OBJECT_INDEX";
    r.target(field(n, "relation"), "altered");
    // ACCESS EXCLUSIVE unless every subcommand takes less.
    lock_mode mode = lock_mode::none;
    for (const auto& c : field(n, "cmds")) {
        const auto& cmd = unwrap(c, "AlterTableCmd");
        auto sub = str(cmd, "subtype");
        auto column = str(cmd, "name");
        lock_mode m = lock_mode::access_exclusive;
        if (sub == "AT_DropColumn") {
            r.at_risk(table, "DROP COLUMN " + table + "." + column);
        } else if (sub == "AT_AlterColumnType") {
            r.at_risk(table, "type change of " + table + "." + column);
        } else if (sub == "AT_ValidateConstraint" || sub == "AT_SetStatistics" ||
                   sub == "AT_ClusterOn" || sub == "AT_DropCluster" || sub == "AT_SetOptions" ||
                   sub == "AT_ResetOptions") {
            m = lock_mode::share_update_exclusive;
        } else if (sub == "AT_AddConstraint") {
            const auto& con = unwrap(field(cmd, "def"), "Constraint");
            if (str(con, "contype") == "CONSTR_FOREIGN") {
                m = lock_mode::share_row_exclusive;
                r.target(field(con, "pktable"), "referenced");
                r.lock(name_of(field(con, "pktable")), lock_mode::share_row_exclusive);
            }
        } else if (sub == "AT_AttachPartition") {
            m = lock_mode::share_update_exclusive;
            const auto& part = unwrap(field(cmd, "def"), "PartitionCmd");
            r.target(field(part, "name"), "altered");
            r.lock(name_of(field(part, "name")), lock_mode::access_exclusive);
        } else if (sub == "AT_DetachPartition") {
            const auto& part = unwrap(field(cmd, "def"), "PartitionCmd");
            if (flag(part, "concurrent")) m = lock_mode::share_update_exclusive;
            r.target(field(part, "name"), "altered");
        }
        mode = std::max(mode, m);
    }
    if (!index && mode != lock_mode::none) r.lock(table, mode);
    (void)f;
}

void read_drop(const json& n, reader& r, facts& f) {
    auto type = str(n, "removeType");
    bool cascade = str(n, "behavior") == "DROP_CASCADE";
    for (const auto& o : field(n, "objects")) {
        if (type == "OBJECT_SCHEMA") {
            auto schema = str(field(o, "String"), "sval");
            if (cascade) {
                f.dropped_schemas.push_back(schema);
                f.destructive.push_back("DROP SCHEMA " + schema + " CASCADE");
            }
            continue;
        }
        const auto& items = field(field(o, "List"), "items");
        if (!items.is_array()) continue;
        auto name = dotted_name(items);
        if (type == "OBJECT_TABLE" || type == "OBJECT_FOREIGN_TABLE") {
            r.named(name, "dropped");
            r.lock(name, lock_mode::access_exclusive);
            if (type == "OBJECT_TABLE") r.at_risk(name, "DROP TABLE " + name);
        } else if (type == "OBJECT_VIEW" || type == "OBJECT_MATVIEW" || type == "OBJECT_INDEX" ||
                   type == "OBJECT_SEQUENCE") {
            r.named(name, "dropped");
            r.lock(name, flag(n, "concurrent") ? lock_mode::share_update_exclusive
                                               : lock_mode::access_exclusive);
        }
    }
}

// CREATE TABLE (with the tables its foreign keys reference) and CREATE TABLE AS.
void read_create(const std::string& k, const json& n, reader& r, facts& f) {
    if (k == "CreateTableAsStmt") {
        const auto& into = unwrap(field(n, "into"), "IntoClause");
        r.target(field(into, "rel"), "created");
        f.created.push_back(name_of(field(into, "rel")));
        return;
    }
    r.target(field(n, "relation"), "created");
    f.created.push_back(name_of(field(n, "relation")));
    for (const auto& elt : field(n, "tableElts")) {
        std::vector<const json*> constraints;
        if (elt.contains("Constraint")) constraints.push_back(&elt["Constraint"]);
        for (const auto& c : field(field(elt, "ColumnDef"), "constraints"))
            if (c.contains("Constraint")) constraints.push_back(&c["Constraint"]);
        for (const auto* c : constraints)
            if (str(*c, "contype") == "CONSTR_FOREIGN") {
                r.target(field(*c, "pktable"), "referenced");
                r.lock(name_of(field(*c, "pktable")), lock_mode::share_row_exclusive);
            }
    }
}

// TRUNCATE, UPDATE, DELETE, MERGE and INSERT (which loses rows only ON CONFLICT DO UPDATE).
void read_row_change(const std::string& k, const json& n, reader& r, facts& f) {
    if (k == "TruncateStmt") {
        for (const auto& rv : field(n, "relations")) {
            r.target(rv, "truncated");
            auto name = name_of(rv);
            r.lock(name, lock_mode::access_exclusive);
            r.at_risk(name, "TRUNCATE " + name);
        }
        return;
    }
    r.target(field(n, "relation"), "written");
    if (k == "InsertStmt") {
        const auto& conflict = unwrap(field(n, "onConflictClause"), "OnConflictClause");
        if (str(conflict, "action") != "ONCONFLICT_UPDATE") return;
    }
    f.changes_rows = true;
    r.at_risk(name_of(field(n, "relation")), "");
}

bool has_def_elem(const json& list, const char* defname) {
    for (const auto& o : list)
        if (str(field(o, "DefElem"), "defname") == defname) return true;
    return false;
}

// VACUUM, CLUSTER and REINDEX, with the lock each takes.
void read_maintenance(const std::string& k, const json& n, reader& r) {
    if (k == "VacuumStmt") {
        bool full = has_def_elem(field(n, "options"), "full");
        for (const auto& vr : field(n, "rels")) {
            const auto& rel = field(unwrap(vr, "VacuumRelation"), "relation");
            r.target(rel, "vacuumed");
            r.lock(name_of(rel),
                   full ? lock_mode::access_exclusive : lock_mode::share_update_exclusive);
        }
    } else if (k == "ClusterStmt") {
        r.target(field(n, "relation"), "clustered");
        if (field(n, "relation").is_object())
            r.lock(name_of(field(n, "relation")), lock_mode::access_exclusive);
    } else if (k == "ReindexStmt" && field(n, "relation").is_object()) {
        r.target(field(n, "relation"), "reindexed");
        bool concurrently = has_def_elem(field(n, "params"), "concurrently");
        auto kind = str(n, "kind");
        r.lock(name_of(field(n, "relation")), concurrently ? lock_mode::share_update_exclusive
                                              : kind == "REINDEX_OBJECT_INDEX"
                                                  ? lock_mode::access_exclusive
                                                  : lock_mode::share);
    }
}

}  // namespace

const char* lock_mode_name(lock_mode m) {
    switch (m) {
        case lock_mode::none:
            return "none";
        case lock_mode::access_share:
            return "ACCESS SHARE";
        case lock_mode::row_share:
            return "ROW SHARE";
        case lock_mode::row_exclusive:
            return "ROW EXCLUSIVE";
        case lock_mode::share_update_exclusive:
            return "SHARE UPDATE EXCLUSIVE";
        case lock_mode::share:
            return "SHARE";
        case lock_mode::share_row_exclusive:
            return "SHARE ROW EXCLUSIVE";
        case lock_mode::exclusive:
            return "EXCLUSIVE";
        case lock_mode::access_exclusive:
            return "ACCESS EXCLUSIVE";
    }
    return "?";
}

lock_mode lock_mode_from_pg(const std::string& s) {
    static const std::pair<const char*, lock_mode> names[] = {
        {"AccessShareLock", lock_mode::access_share},
        {"RowShareLock", lock_mode::row_share},
        {"RowExclusiveLock", lock_mode::row_exclusive},
        {"ShareUpdateExclusiveLock", lock_mode::share_update_exclusive},
        {"ShareLock", lock_mode::share},
        {"ShareRowExclusiveLock", lock_mode::share_row_exclusive},
        {"ExclusiveLock", lock_mode::exclusive},
        {"AccessExclusiveLock", lock_mode::access_exclusive},
    };
    for (auto& [n, m] : names)
        if (s == n) return m;
    return lock_mode::none;
}

bool lock_conflicts(lock_mode a, lock_mode b) {
    if (a == lock_mode::none || b == lock_mode::none) return false;
    // PostgreSQL's table-level conflict matrix ("Explicit Locking"), as the
    // weakest mode each mode conflicts with, plus the modes it spares.
    auto conflicts_one_way = [](lock_mode x, lock_mode y) {
        switch (x) {
            case lock_mode::access_share:
                return y == lock_mode::access_exclusive;
            case lock_mode::row_share:
                return y >= lock_mode::exclusive;
            case lock_mode::row_exclusive:
                return y >= lock_mode::share;
            case lock_mode::share_update_exclusive:
                return y >= lock_mode::share_update_exclusive;
            case lock_mode::share:
                return y == lock_mode::row_exclusive || y == lock_mode::share_update_exclusive ||
                       y >= lock_mode::share_row_exclusive;
            case lock_mode::share_row_exclusive:
                return y >= lock_mode::row_exclusive;
            case lock_mode::exclusive:
                return y >= lock_mode::row_share;
            case lock_mode::access_exclusive:
                return true;
            default:
                return false;
        }
    };
    return conflicts_one_way(a, b) || conflicts_one_way(b, a);
}

relation relation_of(const json& range_var, const std::string& role) {
    relation r;
    r.schema = str(range_var, "schemaname");
    r.name = str(range_var, "relname");
    const auto& loc = field(range_var, "location");
    r.location = loc.is_number_integer() ? loc.get<std::size_t>() : 0;
    r.role = role;
    return r;
}

std::string dotted_name(const json& items) {
    std::string out;
    for (const auto& item : items) {
        auto part = str(field(item, "String"), "sval");
        out += (out.empty() ? "" : ".") + part;
    }
    return out;
}

facts facts_of(const sql::statement& s) {
    facts f;
    if (!s.tree.is_object() || s.kind.empty()) return f;
    const auto& n = field(s.tree, s.kind.c_str());
    reader r(f);
    const auto& k = s.kind;
    if (k == "CreateStmt" || k == "CreateTableAsStmt") {
        read_create(k, n, r, f);
    } else if (k == "AlterTableStmt") {
        read_alter_table(n, r, f);
    } else if (k == "DropStmt") {
        read_drop(n, r, f);
    } else if (k == "TruncateStmt" || k == "UpdateStmt" || k == "DeleteStmt" || k == "MergeStmt" ||
               k == "InsertStmt") {
        read_row_change(k, n, r, f);
    } else if (k == "IndexStmt") {
        r.target(field(n, "relation"), "indexed");
        r.lock(name_of(field(n, "relation")),
               flag(n, "concurrent") ? lock_mode::share_update_exclusive : lock_mode::share);
    } else if (k == "RenameStmt") {
        if (field(n, "relation").is_object()) {
            r.target(field(n, "relation"), "renamed");
            r.lock(name_of(field(n, "relation")), lock_mode::access_exclusive);
        }
    } else if (k == "VacuumStmt" || k == "ClusterStmt" || k == "ReindexStmt") {
        read_maintenance(k, n, r);
    } else if (k == "GrantStmt") {
        if (str(n, "targtype") == "ACL_TARGET_OBJECT" && str(n, "objtype") == "OBJECT_TABLE")
            for (const auto& rv : field(n, "objects")) r.target(rv, "granted");
    } else if (k == "CreatePolicyStmt" || k == "AlterPolicyStmt") {
        r.target(field(n, "table"), "policy");
        r.lock(name_of(field(n, "table")), lock_mode::access_exclusive);
    } else if (k == "CreateTrigStmt") {
        r.target(field(n, "relation"), "trigger");
        r.lock(name_of(field(n, "relation")), lock_mode::share_row_exclusive);
    }
    r.reads(s.tree);
    return f;
}

nlohmann::json facts::to_json() const {
    json rels = json::array();
    for (const auto& r : relations)
        rels.push_back({{"schema", r.schema},
                        {"name", r.name},
                        {"qualified", r.qualified()},
                        {"role", r.role},
                        {"location", r.location}});
    json lk = json::array();
    for (const auto& l : locks)
        lk.push_back({{"table", l.table}, {"mode", lock_mode_name(l.mode)}});
    return {
        {"relations", rels},  {"destructive", destructive},         {"changes_rows", changes_rows},
        {"at_risk", at_risk}, {"dropped_schemas", dropped_schemas}, {"locks", lk},
        {"created", created}};
}

}  // namespace moonshift::sql
