// Shared pieces of the command line: project loading and output.
#include "cli/common.hpp"

#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "cli/report.hpp"
#include "common/text.hpp"
#include "db/preload.hpp"
#include "engine/local_shape.hpp"

extern char** environ;

namespace moonshift::cli {

exec_args::exec_args(std::vector<std::string> argv, std::initializer_list<const char*> drop,
                     std::vector<std::string> extra)
    : args_(std::move(argv)) {
    for (char** e = environ; *e; ++e) {
        std::string entry(*e);
        bool dropped = false;
        for (const char* name : drop) dropped = dropped || entry.rfind(name, 0) == 0;
        if (!dropped) env_.push_back(std::move(entry));
    }
    for (auto& x : extra) env_.push_back(std::move(x));
    for (auto& a : args_) av_.push_back(a.data());
    for (auto& e : env_) ev_.push_back(e.data());
    av_.push_back(nullptr);
    ev_.push_back(nullptr);
}

printer::printer(const globals& g)
    : json_(g.json),
      color_(!g.no_color && !g.json && isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR")),
      verbose_(g.verbose),
      quiet_(g.quiet),
      tty_(!g.json && isatty(STDOUT_FILENO)) {}

static std::string fmt_seconds(double s) {
    return text::format_duration(std::chrono::milliseconds(static_cast<long long>(s * 1000)));
}

static std::string paint(bool on, const char* code, const std::string& s) {
    return on ? std::string("\033[") + code + "m" + s + "\033[0m" : s;
}
std::string printer::bold(const std::string& s) const { return paint(color_, "1", s); }
std::string printer::green(const std::string& s) const { return paint(color_, "32", s); }
std::string printer::red(const std::string& s) const { return paint(color_, "31", s); }
std::string printer::yellow(const std::string& s) const { return paint(color_, "33", s); }
std::string printer::dim(const std::string& s) const { return paint(color_, "2", s); }

// Every string in j redacted (not the dump: a URL's password is found up to its last '@',
// which in a dump without spaces could be in another value).
nlohmann::json redacted_json(nlohmann::json j) {
    if (j.is_string()) return text::redact(j.get<std::string>());
    if (j.is_structured())
        for (auto& v : j) v = redacted_json(std::move(v));
    return j;
}

// Everything printed goes through text::redact: the last place a secret could leave.
void printer::line(const std::string& s) const {
    if (json_ || quiet_) return;
    std::fputs((text::redact(s) + "\n").c_str(), stdout);
    std::fflush(stdout);
}

void printer::json_line(const nlohmann::json& j) const {
    // A command's result line carries the engine's report: --report renders it.
    if (j.is_object() && j.contains("result") && j["result"].is_string() && j.contains("report") &&
        j["report"].is_object())
        report::note_result(j["result"].get<std::string>(), j["report"]);
    if (!json_) return;
    std::fputs((redacted_json(j).dump() + "\n").c_str(), stdout);
    std::fflush(stdout);
}

void printer::warn(const std::string& s) const {
    std::fputs((text::redact(s) + "\n").c_str(), stderr);
    std::fflush(stderr);
}

void printer::on_log(const nlohmann::json& d) {
    // The host's own info lines need -v; a script's print and log.info are its output.
    auto level = d.value("level", "info");
    if (level == "debug" && !verbose_) return;
    if (level == "info" && !verbose_ && !d.value("script", false)) return;
    if (open_line_) {
        std::fputs("\n", stdout);
        open_line_ = false;
    }
    if (level == "warn" || level == "error")
        warn((level == "warn" ? yellow("warning: ") : red("error: ")) + d.value("message", ""));
    else if (d.value("script", false))
        line(d.value("message", ""));
    else
        line(dim(d.value("message", "")));
}

void printer::on_backfill_progress(const nlohmann::json& d) {
    // On a TTY one line redrawn in place; otherwise a line at the start, on waits and at the
    // end.
    std::string st = d.value("state", "running");
    std::string text =
        "  backfill " + d.value("table", "") + ": " + std::to_string(d.value("rows_done", 0LL));
    if (d.contains("rows_total") && d["rows_total"].is_number()) {
        auto total = d["rows_total"].get<long long>();
        text += "/" + std::to_string(total) + " rows (" +
                std::to_string(total > 0 ? 100 * d.value("rows_done", 0LL) / total : 100) + "%)";
    } else {
        text += " rows";
    }
    text += ", " + std::to_string(d.value("rows_per_second", 0LL)) + " rows/s";
    if (d.contains("eta_s") && d["eta_s"].is_number())
        text += ", ETA " + std::to_string(d["eta_s"].get<long long>()) + " s";
    if (st != "running")
        text += " — " + st + (d.contains("waiting") ? ": " + d.value("waiting", "") : "");
    if (open_line_) {
        std::fputs("\n", stdout);
        open_line_ = false;
    }
    if (tty_) {
        std::fputs(("\r\033[K" + dim(text)).c_str(), stdout);
        std::fflush(stdout);
        progress_line_ = true;
        if (st == "done") {
            std::fputs("\n", stdout);
            progress_line_ = false;
        }
    } else if (st != "running" || verbose_) {
        line(text);
    }
}

void printer::on_event(const engine::event& e) {
    if (json_) {
        nlohmann::json j = e.data;
        j["event"] = e.name;
        json_line(j);
        return;
    }
    if (quiet_) {  // -q: only warnings and errors, on stderr
        if (e.name == "log") on_log(e.data);
        return;
    }
    auto id = [&] { return e.data.value("version", "") + "_" + e.data.value("name", ""); };
    if (e.name == "log") {
        on_log(e.data);
    } else if (e.name == "migration.start") {
        bool down = e.data.value("direction", "up") == "down";
        std::fputs(((down ? "Reverting " : "Applying ") + bold(id()) + " … ").c_str(), stdout);
        std::fflush(stdout);
        open_line_ = true;
    } else if (e.name == "backfill.progress") {
        on_backfill_progress(e.data);
    } else if (e.name == "migration.applied" || e.name == "migration.reverted") {
        if (progress_line_) {
            std::fputs("\n", stdout);
            progress_line_ = false;
        }
        auto ms = e.data.value("duration_ms", 0LL);
        line(green("ok") + dim(" (" + text::format_duration(std::chrono::milliseconds(ms)) + ")"));
        open_line_ = false;
    } else if (e.name == "migration.failed") {
        line(red("failed"));
        open_line_ = false;
    } else if (e.name == "watch.start") {
        line(dim("Watching " + e.data.value("environment", "") + " for " +
                 fmt_seconds(e.data.value("seconds", 0.0)) + " (every " +
                 fmt_seconds(e.data.value("every", 0.0)) +
                 "): " + std::to_string(e.data.value("triggers", 0)) + " trigger(s) …"));
    } else if (e.name == "trigger.fired") {
        line(red("Trigger " + e.data.value("trigger", "") + " fired: ") +
             e.data.value("reason", ""));
    } else if (e.name == "rollback.start") {
        line(yellow("Rolling back " +
                    std::to_string(e.data.value("versions", nlohmann::json::array()).size()) +
                    " migration(s) …"));
    } else if (e.name == "backup.created") {
        // A backup is taken before its migration starts: its own line.
        std::string tables;
        for (auto& t : e.data.value("tables", nlohmann::json::array()))
            tables += (tables.empty() ? "" : ", ") + t.value("table", "");
        if (tables == "*") tables = "the whole database";
        line(dim("Backed up " + tables + " (" + std::to_string(e.data.value("rows", 0LL)) +
                 " rows) as backup " + std::to_string(e.data.value("id", 0LL)) + " before " +
                 e.data.value("version", "") + "_" + e.data.value("migration", "")));
    }
}

std::string connection_url(const project::config& cfg, const project::environment& env,
                           printer& out) {
    if (!env.local) return env.url;
    if (!local::cluster(cfg.root / ".moonshift" / "local").status().running)
        out.warn("starting the local PostgreSQL cluster (.moonshift/local) …");
    auto c = engine::start_local(cfg);
    if (c.shaped)
        out.warn(
            "gave the local database the Supabase shape (roles anon, authenticated, "
            "service_role; auth, storage, extensions)");
    return c.state.url;
}

project::config load_config(const globals& g) {
    auto cfg = project::load(g.config, g.config_given);
    if (!g.migrations_dir.empty())  // relative to the current directory, as typed
        cfg.migrations_dir = std::filesystem::absolute(g.migrations_dir).string();
    return cfg;
}

project::environment select_env(const globals& g, const project::config& cfg) {
    auto env = project::select(cfg, g.env);
    if (!g.url.empty()) {  // --url / MOONSHIFT_URL win over url, local = true and DATABASE_URL
        text::add_secrets_in(g.url);
        env.url = g.url;
        env.local = false;
    }
    return env;
}

project_env load_project(const globals& g, printer& out) {
    project_env p;
    p.cfg = load_config(g);
    p.env = select_env(g, p.cfg);
    p.url = connection_url(p.cfg, p.env, out);
    return p;
}

void announce(const project_env& p, printer& out) {
    std::string where = p.url.empty() ? "PG* variables" : text::redact(p.url);
    report::note_environment(p.env.name, where);
    // Production in red, environments that feed it in yellow, others in green.
    std::string name = "▶ " + p.env.name;
    bool feeds = false;
    for (auto& [_, other] : p.cfg.envs) feeds = feeds || other.promote_from == p.env.name;
    name = p.env.is_production() ? out.red(name) : feeds ? out.yellow(name) : out.green(name);
    std::string notes;
    if (p.env.is_production()) notes += " production";
    if (p.env.read_only) notes += " read-only";
    if (!p.env.promote_from.empty()) notes += " promoted from " + p.env.promote_from;
    out.line(out.bold(name) + out.dim("  " + where + (notes.empty() ? "" : "  ·" + notes)));
}

void attach_promotion(engine::context& ctx, const globals& g, printer& out,
                      const std::string& from) {
    std::string source = from.empty() ? ctx.env.promote_from : from;
    if (source.empty()) return;
    if (!ctx.env.promote_from.empty() && !from.empty() && from != ctx.env.promote_from)
        throw usage_error(
            "[env." + ctx.env.name + "] is promoted from " + ctx.env.promote_from + ", not from " +
                from,
            "use --from " + ctx.env.promote_from + ", or change promote_from in moonshift.toml");
    if (source == ctx.env.name) throw usage_error("cannot promote " + source + " to itself");
    (void)g;
    auto src = project::select(ctx.cfg, source);
    ctx.promote_from = engine::context::source_env{src.name, connection_url(ctx.cfg, src, out)};
}

engine::context make_context(const globals& g, printer& out, bool reads_catalog) {
    db::load_libpq_in_background();
    auto p = load_project(g, out);
    announce(p, out);
    engine::context ctx;
    ctx.read_catalog_early = reads_catalog;
    ctx.cfg = p.cfg;
    ctx.env = p.env;
    ctx.url = p.url;
    ctx.on_event = [&out](const engine::event& e) {
        report::note_event(e);
        out.on_event(e);
    };
    // Environments with approve = true: --yes, or the environment's name typed on a terminal.
    ctx.confirm = [&g, name = p.env.name](const std::string& what) {
        if (g.yes) return true;
        if (!isatty(STDIN_FILENO)) return false;
        std::fprintf(stderr, "%s\nThis changes %s. Type its name to go on: ", what.c_str(),
                     name.c_str());
        std::fflush(stderr);
        std::string answer;
        if (!std::getline(std::cin, answer)) return false;
        return text::trim(answer) == name;
    };
    attach_notifications(ctx, out);
    // The report as the notification hooks leave it, for --report.
    auto close = ctx.on_close;
    ctx.on_close = [close](const std::string& outcome, nlohmann::json& r) {
        struct keep {
            nlohmann::json& r;
            ~keep() { report::note_close(r); }
        } k{r};
        if (close) close(outcome, r);
    };
    return ctx;
}

}  // namespace moonshift::cli
