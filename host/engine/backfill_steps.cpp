// Backfills in the run lifecycle (docs/backfills.md). A Lua migration's up
// runs in its transaction; the backfills it declared are checked there and
// registered with a "ddl" checkpoint that commits with the DDL. The batches
// run after that, each in its own transaction with its checkpoint; the
// history row (and the removal of the checkpoints) commits only when every
// backfill is done. A resume finds the "ddl" checkpoint and goes straight to
// the batches: the DDL never runs twice.
#include <cctype>
#include <chrono>
#include <sstream>
#include <string_view>

#include "backfill/control.hpp"
#include "backfill/runner.hpp"
#include "backfill/target.hpp"
#include "common/text.hpp"
#include "db/quote.hpp"
#include "db/transaction.hpp"
#include "engine/engine.hpp"
#include "lua/backfill_spec.hpp"
#include "lua/runtime.hpp"

namespace moonshift::engine {
namespace {

// True for `backfill =` and `["backfill"] =` (after blank space): read by hand, since a
// std::regex recursed once per character and a long line overflowed the stack.
bool assigns_backfill(std::string_view line) {
    std::size_t p = 0;
    auto blanks = [&] {
        while (p < line.size() && std::isspace(static_cast<unsigned char>(line[p]))) ++p;
    };
    auto quote = [&] { return p < line.size() && (line[p] == '"' || line[p] == '\''); };
    blanks();
    bool bracket = p < line.size() && line[p] == '[';
    if (bracket) {
        ++p;
        blanks();
        if (!quote()) return false;
        ++p;
    }
    if (line.substr(p, 8) != "backfill") return false;
    p += 8;
    if (bracket) {
        if (!quote()) return false;
        ++p;
        blanks();
        if (p >= line.size() || line[p] != ']') return false;
        ++p;
    }
    blanks();
    return p < line.size() && line[p] == '=';
}

// The line of `backfill =` in a migration file, for messages about its field.
int backfill_field_line(const std::string& source) {
    std::istringstream in(source);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n)
        if (assigns_backfill(line)) return n;
    return 0;
}

std::string quoted_schema(const std::string& schema) { return db::quote::ident(schema); }

}  // namespace

std::vector<lua::backfill_spec> engine::declared_backfills(const catalog::migration& m,
                                                           const lua::script* s) {
    auto& rt = lua_runtime();
    auto specs = rt.take_backfills();  // backfill{...} calls in up
    if (s && s->has("backfill")) {
        auto field = rt.backfills_of(*s, backfill_field_line(m.lua_source));
        for (auto& f : field) specs.push_back(std::move(f));
    }
    if (!m.backfill_lua.empty()) {
        rt.run_file(m.backfill_label, m.backfill_lua, lua::phase::up);
        for (auto& f : rt.take_backfills()) {
            f.origin = "file";
            specs.push_back(std::move(f));
        }
    }
    return specs;
}

void engine::prepare_backfills(const catalog::migration& m, std::vector<lua::backfill_spec>& specs,
                               long long run_id) {
    nlohmann::json list = nlohmann::json::array();
    std::string q = quoted_schema(ctx_.cfg.schema);
    for (std::size_t i = 0; i < specs.size(); ++i) {
        // throws before any row is touched
        auto t = backfill::resolve(*session_, specs[i]);
        backfill::job j;
        j.schema_quoted = q;
        j.version = m.version;
        j.part = static_cast<int>(i);
        j.run_id = run_id;
        session_->exec_script(backfill::register_sql(j, t));
        list.push_back(specs[i].to_json());
    }
    nlohmann::json position = {{"checksum", m.checksum}, {"backfills", list}};
    // In the DDL's transaction: the checkpoint commits with it.
    store_->save_checkpoint(m.version, "ddl", position, run_id);
}

std::vector<lua::backfill_spec> engine::resumed_backfills(const catalog::migration& m,
                                                          const lua::script* s,
                                                          const nlohmann::json& ddl) {
    if (ddl.value("checksum", "") != m.checksum)
        throw error(exit_code::drift,
                    m.up_label + " changed on disk after its DDL committed and its backfill began",
                    "restore the file as it was (the backfill resumes from its checkpoint), or "
                    "repair by hand");
    auto& rt = lua_runtime();
    rt.take_backfills();
    std::vector<lua::backfill_spec> field, file;
    if (s && s->has("backfill")) field = rt.backfills_of(*s, backfill_field_line(m.lua_source));
    if (!m.backfill_lua.empty()) {
        // backfill.lua only declares; whatever else it does is rolled back.
        db::transaction tx(*session_);
        rt.run_file(m.backfill_label, m.backfill_lua, lua::phase::up);
        tx.rollback();
        file = rt.take_backfills();
    }
    std::vector<lua::backfill_spec> out;
    std::size_t fi = 0, xi = 0;
    for (auto& j : ddl.value("backfills", nlohmann::json::array())) {
        auto origin = j.value("origin", "up");
        if (origin == "field" && fi < field.size())
            out.push_back(std::move(field[fi++]));
        else if (origin == "file" && xi < file.size())
            out.push_back(std::move(file[xi++]));
        else if (origin == "up")
            out.push_back(lua::backfill_spec::from_json(j));
        else
            throw error(
                exit_code::drift,
                m.up_label + ": its backfills differ from the ones its DDL checkpoint recorded",
                "restore the migration as it was when it started");
    }
    log("info", m.up_label + ": its DDL committed in an earlier run; resuming its backfill");
    return out;
}

nlohmann::json engine::run_backfills(const catalog::migration& m,
                                     const std::vector<lua::backfill_spec>& specs,
                                     long long run_id) {
    auto& rt = lua_runtime();
    rt.set_deadline(std::chrono::milliseconds(0));  // bounded per statement by statement_timeout
    nlohmann::json done = nlohmann::json::array();
    for (std::size_t i = 0; i < specs.size(); ++i) {
        backfill::job j;
        j.session = session_.get();
        j.lua = &rt;
        j.schema_quoted = quoted_schema(ctx_.cfg.schema);
        j.version = m.version;
        j.name = m.name;
        j.part = static_cast<int>(i);
        j.run_id = run_id;
        j.lock_timeout = ctx_.env.lock_timeout;
        j.emit = [this](const std::string& name, nlohmann::json data) {
            emit(name, std::move(data));
        };
        auto t = backfill::resolve(*session_, specs[i]);
        auto r = backfill::run(j, specs[i], t);
        done.push_back({{"table", t.display},
                        {"rows", r.rows},
                        {"batches", r.batches},
                        {"duration_ms", r.ms}});
    }
    return done;
}

nlohmann::json engine::backfill_status() {
    if (!store_->present()) return nlohmann::json::array();
    return backfill::status(*session_, quoted_schema(ctx_.cfg.schema));
}

int engine::backfill_pause(const std::string& version, bool pause) {
    refuse_read_only(pause ? "backfill pause" : "backfill resume");
    if (!store_->present()) return 0;
    return backfill::set_paused(*session_, quoted_schema(ctx_.cfg.schema), version, pause);
}

}  // namespace moonshift::engine
