// The environment's rules before a change (DESIGN.md, "gate"): read-only
// environments, change windows, staging-first promotion and approval.
#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <map>
#include <tuple>

#include "common/text.hpp"
#include "db/quote.hpp"
#include "engine/engine.hpp"
#include "engine/run_scope.hpp"

namespace moonshift::engine {

namespace {

std::string windows_of(const project::environment& env) {
    std::string out;
    for (auto& w : env.window) out += (out.empty() ? "" : ", ") + w.text;
    return out;
}

std::string now_text(bool utc) {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    if (utc)
        gmtime_r(&t, &tm);
    else
        localtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, utc ? "%a %H:%M UTC" : "%a %H:%M", &tm);
    return buf;
}

[[noreturn]] void refuse(run_scope& run,
                         const std::function<void(const std::string&, nlohmann::json)>& emit,
                         exit_code code, const std::string& gate, const std::string& message,
                         const std::string& hint,
                         nlohmann::json detail = nlohmann::json::object()) {
    detail["gate"] = gate;
    detail["message"] = message;
    run.report()["gate"] = detail;
    run.report()["error"] = text::redact(message);
    emit("gate.failed", detail);
    run.finish("refused");
    throw error(code, message, hint);
}

}  // namespace

void engine::gate(run_scope& run, const std::string& command,
                  const std::vector<const catalog::migration*>& todo) {
    const auto& env = ctx_.env;
    auto emit_fn = [this](const std::string& n, nlohmann::json d) { emit(n, std::move(d)); };
    // read_only is refused before the run opens (refuse_read_only, from run_scope).
    if (!project::in_window(env.window, std::chrono::system_clock::now())) {
        bool utc = !env.window.empty() && env.window.front().utc;
        refuse(run, emit_fn, exit_code::check_failed, "window",
               "outside the change window of " + env.name + ": it is " + now_text(utc) +
                   ", changes may run " + windows_of(env),
               "run it again within the window, or change window in [env." + env.name + "]",
               {{"window", windows_of(env)}});
    }
    if (command == "up" && ctx_.promote_from) {
        auto p = promotion_gate(todo);
        run.report()["promotion"] = p;
        if (!p["missing"].empty()) {
            std::string list;
            for (auto& m : p["missing"])
                list += "\n  " + m.value("version", "") + "_" + m.value("name", "") + ": " +
                        m.value("why", "");
            refuse(run, emit_fn, exit_code::check_failed, "promotion",
                   std::to_string(p["missing"].size()) +
                       " migration(s) are not applied and verified in " + ctx_.promote_from->name +
                       " with the same checksum, so they cannot go to " + env.name + ":" + list,
                   "apply and verify them in " + ctx_.promote_from->name +
                       " first (`moonshift up --env " + ctx_.promote_from->name +
                       "`), then promote again",
                   {{"from", ctx_.promote_from->name}, {"missing", p["missing"]}});
        }
        for (auto& m : p["migrations"])
            log("notice",
                fmt::format("{}_{} took {} in {}", m.value("version", ""), m.value("name", ""),
                            text::format_duration(
                                std::chrono::milliseconds(m.value("source_duration_ms", 0LL))),
                            ctx_.promote_from->name));
    }
}

void engine::refuse_read_only(const std::string& command) {
    const auto& env = ctx_.env;
    if (!env.read_only) return;
    // Before the lock and the run's row: a read-only environment (a replica,
    // say) gets no write at all, not even the record of this refusal.
    std::string message =
        "environment " + env.name + " is read-only: `moonshift " + command + "` would change it";
    emit("gate.failed", {{"gate", "read_only"}, {"message", message}, {"command", command}});
    throw usage_error(message, "use another environment, or remove read_only from [env." +
                                   env.name + "] in moonshift.toml");
}

void engine::approve(run_scope& run, const std::string& what) {
    if (!ctx_.env.approve) return;
    auto emit_fn = [this](const std::string& n, nlohmann::json d) { emit(n, std::move(d)); };
    if (!ctx_.confirm || !ctx_.confirm(what))
        refuse(run, emit_fn, exit_code::check_failed, "approval",
               "changes to " + ctx_.env.name + " need approval, and none was given: " + what,
               "type the environment's name when asked on a terminal, or pass --yes (in CI, after "
               "the approval "
               "step of your pipeline)");
    run.report()["approved_by"] = history::current_actor();
}

std::map<std::string, engine::source_row> engine::source_history() {
    const auto& src = *ctx_.promote_from;
    db::settings s;
    s.url = src.url;
    s.statement_timeout = std::chrono::seconds(30);
    std::map<std::string, source_row> rows;
    try {
        db::session source(s);
        auto table = db::quote::ident(ctx_.cfg.schema) + ".migrations";
        auto exists = source.query(
            "SELECT to_regclass($1) IS NOT NULL, "
            "EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) "
            "AND attname = 'verified_at' AND NOT attisdropped)",
            table);
        if (exists[0][0].as<bool>()) {
            bool has_verified = exists[0][1].as<bool>();
            auto r = source.query("SELECT version, checksum, duration_ms, " +
                                  std::string(has_verified ? "verified_at IS NOT NULL" : "false") +
                                  " FROM " + table);
            for (const auto& row : r)
                rows[row[0].c_str()] = {row[1].c_str(), row[2].as<long long>(), row[3].as<bool>()};
        }
    } catch (const std::exception& e) {
        throw error(
            exit_code::usage,
            "cannot read the history of " + src.name +
                " (the promotion source): " + text::redact(e.what()),
            "check [env." + src.name + "] in moonshift.toml and that the database is reachable");
    }
    return rows;
}

nlohmann::json engine::promotion_gate(const std::vector<const catalog::migration*>& todo) {
    const auto& src = *ctx_.promote_from;
    nlohmann::json out = {{"from", src.name},
                          {"migrations", nlohmann::json::array()},
                          {"missing", nlohmann::json::array()}};
    if (todo.empty()) return out;
    auto rows = source_history();
    for (auto* m : todo) {
        auto it = rows.find(m->version);
        std::string why;
        if (it == rows.end())
            why = "not applied in " + src.name;
        else if (it->second.checksum != m->checksum &&
                 (m->legacy_checksum.empty() || it->second.checksum != m->legacy_checksum))
            why = "applied in " + src.name +
                  " with a different checksum (the file changed after it ran there)";
        else if (!it->second.verified)
            why = "applied in " + src.name +
                  " but not verified there (run `moonshift verify --env " + src.name + "`)";
        if (!why.empty()) {
            out["missing"].push_back({{"version", m->version}, {"name", m->name}, {"why", why}});
            continue;
        }
        out["migrations"].push_back({{"version", m->version},
                                     {"name", m->name},
                                     {"checksum", m->checksum},
                                     {"source_duration_ms", it->second.duration_ms}});
    }
    return out;
}

}  // namespace moonshift::engine
