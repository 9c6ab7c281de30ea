// The commands that call PreventInTransactionBlock, told apart by their trees.
#include "sql/no_transaction.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace moonshift::sql::detail {
namespace {

using json = nlohmann::json;

bool flag(const json& node, const char* name) {
    auto it = node.find(name);
    return it != node.end() && it->is_boolean() && it->get<bool>();
}

const json* def_elem(const json& node, const char* list, const char* defname) {
    auto items = node.find(list);
    if (items == node.end() || !items->is_array()) return nullptr;
    for (const auto& item : *items) {
        auto d = item.find("DefElem");
        if (d != item.end() && d->value("defname", "") == defname) return &*d;
    }
    return nullptr;
}

// A DefElem's boolean value as PostgreSQL's defGetBoolean reads it.
bool def_bool(const json* d, bool absent) {
    if (d == nullptr) return absent;
    auto arg = d->find("arg");
    if (arg == d->end()) return true;  // WITH (create_slot)
    if (auto i = arg->find("Integer"); i != arg->end()) return i->value("ival", 0) != 0;
    if (auto b = arg->find("Boolean"); b != arg->end()) return b->value("boolval", false);
    std::string v;
    if (auto s = arg->find("String"); s != arg->end()) v = s->value("sval", "");
    if (auto t = arg->find("TypeName"); t != arg->end()) {  // create_slot = off
        const auto& names = t->value("names", json::array());
        if (!names.empty()) v = names.back().value("String", json::object()).value("sval", "");
    }
    if (!v.empty()) {
        std::transform(v.begin(), v.end(), v.begin(),
                       [](unsigned char c) { return char(std::tolower(c)); });
        return !(v == "false" || v == "off" || v == "0");
    }
    return true;
}

}  // namespace

// These are the commands that call PreventInTransactionBlock.
std::string no_transaction_reason(const std::string& kind, const json& node) {
    auto refused = [](const char* what) {
        return fmt::format("{} cannot run inside a transaction block", what);
    };
    if (kind == "IndexStmt" && flag(node, "concurrent"))
        return refused("CREATE INDEX CONCURRENTLY");
    if (kind == "DropStmt" && flag(node, "concurrent")) return refused("DROP INDEX CONCURRENTLY");
    if (kind == "ReindexStmt") {
        if (def_elem(node, "params", "concurrently") != nullptr)
            return refused("REINDEX CONCURRENTLY");
        auto object = node.value("kind", "");
        if (object == "REINDEX_OBJECT_SCHEMA") return refused("REINDEX SCHEMA");
        if (object == "REINDEX_OBJECT_SYSTEM") return refused("REINDEX SYSTEM");
        if (object == "REINDEX_OBJECT_DATABASE") return refused("REINDEX DATABASE");
    }
    if (kind == "VacuumStmt" && flag(node, "is_vacuumcmd")) return refused("VACUUM");
    if (kind == "CreatedbStmt") return refused("CREATE DATABASE");
    if (kind == "DropdbStmt") return refused("DROP DATABASE");
    if (kind == "AlterDatabaseStmt" && def_elem(node, "options", "tablespace") != nullptr)
        return refused("ALTER DATABASE SET TABLESPACE");
    if (kind == "CreateTableSpaceStmt") return refused("CREATE TABLESPACE");
    if (kind == "DropTableSpaceStmt") return refused("DROP TABLESPACE");
    if (kind == "AlterSystemStmt") return refused("ALTER SYSTEM");
    if (kind == "CreateSubscriptionStmt") {
        bool connect = def_bool(def_elem(node, "options", "connect"), true);
        if (def_bool(def_elem(node, "options", "create_slot"), connect))
            return refused("CREATE SUBSCRIPTION ... WITH (create_slot = true)");
    }
    if (kind == "DropSubscriptionStmt")
        return refused("DROP SUBSCRIPTION") + " (when the subscription has a replication slot)";
    if (kind == "AlterTableStmt") {
        // By reference: value() would copy every command of every ALTER TABLE.
        auto cmds = node.find("cmds");
        if (cmds != node.end() && cmds->is_array())
            for (const auto& cmd : *cmds) {
                auto c = cmd.find("AlterTableCmd");
                if (c == cmd.end() || !c->is_object()) continue;
                auto def = c->find("def");
                if (c->value("subtype", "") != "AT_DetachPartition" || def == c->end() ||
                    !def->is_object())
                    continue;
                auto part = def->find("PartitionCmd");
                if (part != def->end() && part->is_object() && flag(*part, "concurrent"))
                    return refused("ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY");
            }
    }
    if (kind == "ClusterStmt" && !node.contains("relation"))
        return refused("CLUSTER without a table name");
    if (kind == "DiscardStmt" && node.value("target", "") == "DISCARD_ALL")
        return refused("DISCARD ALL");
    return {};
}

bool classification_needs_tree(const std::string& kind, std::string_view tree_json) {
    if (kind == "IndexStmt" || kind == "DropStmt" || kind == "AlterTableStmt")
        // A cheap filter; the tree decides.
        return tree_json.find("\"concurrent\":true") != std::string_view::npos;
    return kind == "ReindexStmt" || kind == "VacuumStmt" || kind == "AlterDatabaseStmt" ||
           kind == "CreateSubscriptionStmt" || kind == "ClusterStmt" || kind == "DiscardStmt";
}

}  // namespace moonshift::sql::detail

namespace moonshift::sql {

bool free_of_transaction_words(std::string_view text) {
    // The first word of every transaction-control statement and of every
    // statement no_transaction_reason names, plus the word that makes it one.
    static constexpr std::string_view words[] = {
        "ABORT",    "BEGIN",      "COMMIT",  "END",          "ROLLBACK", "SAVEPOINT",
        "RELEASE",  "START",      "PREPARE", "CONCURRENTLY", "REINDEX",  "VACUUM",
        "DATABASE", "TABLESPACE", "SYSTEM",  "SUBSCRIPTION", "CLUSTER",  "DISCARD",
    };
    char word[16];
    std::size_t i = 0, n = text.size();
    while (i < n) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (!std::isalpha(c)) {
            ++i;
            continue;
        }
        std::size_t len = 0;
        bool fits = true;
        while (i < n && (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_')) {
            if (len < sizeof word)
                word[len++] = char(std::toupper(static_cast<unsigned char>(text[i])));
            else
                fits = false;
            ++i;
        }
        if (!fits) continue;
        std::string_view w(word, len);
        for (auto candidate : words)
            if (w == candidate) return false;
    }
    return true;
}

}  // namespace moonshift::sql
