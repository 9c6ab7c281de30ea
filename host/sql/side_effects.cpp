// Side effects a rollback cannot undo, from the parse tree.
#include "sql/side_effects.hpp"

#include <algorithm>
#include <set>

namespace moonshift::sql {
namespace {

using json = nlohmann::json;

// Functions whose effect outlives a rollback (or that reach outside the database).
const std::set<std::string>& irreversible_functions() {
    static const std::set<std::string> names = {
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_file_write",
        "pg_file_rename",
        "pg_file_unlink",
        "lo_import",
        "lo_export",
        "dblink",
        "dblink_exec",
        "dblink_connect",
        "dblink_send_query",
        "pg_switch_wal",
        "pg_create_restore_point",
        "pg_promote",
        "pg_log_backend_memory_contexts",
    };
    return names;
}

// Functions that read the server's files: nothing to undo, but refused where a
// script may only look at the database.
const std::set<std::string>& server_file_functions() {
    static const std::set<std::string> names = {
        "pg_read_file",
        "pg_read_binary_file",
        "pg_ls_dir",
        "pg_stat_file",
        "pg_ls_logdir",
        "pg_ls_waldir",
        "pg_ls_tmpdir",
        "pg_ls_archive_statusdir",
        "pg_ls_logicalsnapdir",
        "pg_ls_logicalmapdir",
        "pg_ls_replslotdir",
    };
    return names;
}

void add(std::vector<std::string>& out, const std::string& phrase) {
    if (std::find(out.begin(), out.end(), phrase) == out.end()) out.push_back(phrase);
}

void walk(const json& node, std::vector<std::string>& out, bool reads) {
    if (node.is_array()) {
        for (const auto& item : node) walk(item, out, reads);
        return;
    }
    if (!node.is_object()) return;
    if (auto f = node.find("FuncCall"); f != node.end() && f->is_object()) {
        const auto& names = f->value("funcname", json::array());
        if (!names.empty()) {
            auto name = names.back().value("String", json::object()).value("sval", "");
            if (irreversible_functions().count(name) ||
                (reads && (server_file_functions().count(name) || name.rfind("dblink", 0) == 0)))
                add(out, name + "()");
        }
    }
    if (reads && node.contains("DoStmt")) add(out, "a DO block");
    if (auto c = node.find("CopyStmt"); c != node.end() && c->is_object()) {
        if (c->value("is_program", false))
            add(out, "COPY … PROGRAM");
        else if (c->contains("filename"))
            add(out, c->value("is_from", false) ? "COPY … FROM a server file"
                                                : "COPY … TO a server file");
    }
    for (const auto& [key, value] : node.items())
        if (value.is_structured()) walk(value, out, reads);
}

}  // namespace

std::vector<std::string> irreversible_effects(const statement& s) {
    std::vector<std::string> out;
    walk(s.tree, out, false);
    return out;
}

std::vector<std::string> server_access(const statement& s) {
    std::vector<std::string> out;
    walk(s.tree, out, true);
    return out;
}

}  // namespace moonshift::sql
