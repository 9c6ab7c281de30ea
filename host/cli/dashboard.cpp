// `moonshift dashboard`: every environment of moonshift.toml on one page, served on 127.0.0.1
// (host/web/) or written as static files (--out DIR). The page is assets/dashboard/, embedded in
// the binary; its data is overview::gather with the drill-down, redacted, as JSON.
#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "cli/common.hpp"
#include "cli/overview.hpp"
#include "common/embedded.hpp"
#include "common/interrupt.hpp"
#include "common/text.hpp"
#include "web/server.hpp"

namespace moonshift::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct dashboard_options {
    int port = 7780;
    std::string listen = "127.0.0.1";
    std::string out_dir;
    int refresh = 5;  // seconds between the page's polls
    int runs = 20;    // runs per environment in the drill-down
};

std::string now_utc() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// The page's data: {environments: [...], generated_at, refresh_seconds, version}. Every string
// redacted, whatever a report or an error message holds.
json page_data(const project::config& cfg, const dashboard_options& o) {
    overview::detail d;
    d.migrations = true;
    d.runs = o.runs;
    d.backups = 20;
    json j = overview::gather(cfg, d);
    j["generated_at"] = now_utc();
    j["refresh_seconds"] = o.refresh;
    j["version"] = MOONSHIFT_VERSION;
    return redacted_json(j);
}

std::string asset(const std::string& name) {
    auto f = embedded::find("assets/dashboard/" + name);
    if (!f) throw error(exit_code::usage, "the dashboard's " + name + " is not in this binary");
    return std::string(*f);
}

// The data inside the page (for --out, opened from disk, where the page cannot fetch): in a
// JSON script element, with <, > and & escaped so no string can close the element.
std::string with_data(const std::string& page, const json& data) {
    std::string text = data.dump();
    std::string safe;
    safe.reserve(text.size());
    for (char c : text) {
        if (c == '<')
            safe += "\\u003c";
        else if (c == '>')
            safe += "\\u003e";
        else if (c == '&')
            safe += "\\u0026";
        else
            safe += c;
    }
    const std::string mark = "<!-- moonshift:data -->";
    auto at = page.find(mark);
    if (at == std::string::npos) return page;
    return page.substr(0, at) + "<script id=\"moonshift-data\" type=\"application/json\">" + safe +
           "</script>" + page.substr(at + mark.size());
}

void write_text(const fs::path& p, const std::string& content) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f << content;
    f.flush();
    if (!f)
        throw usage_error("--out: cannot write " + p.string(),
                          "name a directory that can be created and written");
}

int write_out(const project::config& cfg, const dashboard_options& o, printer& out) {
    fs::path dir(o.out_dir);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (!fs::is_directory(dir))
        throw usage_error("--out " + o.out_dir + ": not a directory that can be created",
                          "name a new or existing directory");
    json data = page_data(cfg, o);
    write_text(dir / "index.html", with_data(asset("index.html"), data));
    write_text(dir / "style.css", asset("style.css"));
    write_text(dir / "app.js", asset("app.js"));
    write_text(dir / "dashboard.json", data.dump(2) + "\n");
    out.line(fmt::format("Wrote the dashboard of {} environment{} to {}", cfg.envs.size(),
                         cfg.envs.size() == 1 ? "" : "s", (dir / "index.html").string()));
    out.json_line({{"result", "dashboard"}, {"out", dir.string()}, {"data", data}});
    return 0;
}

// Polls of several open pages share one reading while it is fresh.
struct cached_data {
    std::mutex m;
    std::chrono::steady_clock::time_point at;
    std::string body;
};

int serve(const project::config& cfg, const dashboard_options& o, printer& out) {
    web::server srv;
    auto file = [](const std::string& name, const std::string& type) {
        return [body = asset(name), type] { return web::response{200, type, body}; };
    };
    srv.get("/", file("index.html", "text/html; charset=utf-8"));
    srv.get("/index.html", file("index.html", "text/html; charset=utf-8"));
    srv.get("/style.css", file("style.css", "text/css; charset=utf-8"));
    srv.get("/app.js", file("app.js", "text/javascript; charset=utf-8"));
    auto cache = std::make_shared<cached_data>();
    auto fresh_for = std::chrono::milliseconds(o.refresh * 500);
    srv.get("/api/dashboard.json", [cache, fresh_for, &cfg, &o] {
        std::lock_guard<std::mutex> lock(cache->m);
        auto now = std::chrono::steady_clock::now();
        if (cache->body.empty() || now - cache->at >= fresh_for) {
            cache->body = page_data(cfg, o).dump();
            cache->at = now;
        }
        return web::response{200, "application/json", cache->body};
    });
    int port = srv.bind(o.listen, o.port);
    bool v6 = o.listen.find(':') != std::string::npos;
    std::string url = fmt::format("http://{}:{}/", v6 ? "[" + o.listen + "]" : o.listen, port);
    if (!web::is_loopback(o.listen))
        out.warn("warning: the dashboard listens on " + o.listen +
                 ": whoever reaches this machine sees versions, errors and run reports");
    out.line(fmt::format("Dashboard of {} environment{} on {} (Ctrl-C stops it)", cfg.envs.size(),
                         cfg.envs.size() == 1 ? "" : "s", url));
    out.json_line({{"dashboard", url}, {"listen", o.listen}, {"port", port}});
    srv.serve([] { return interrupt::received() != 0; });
    out.line("Dashboard stopped.");
    return 0;
}

int dashboard(const globals& g, const dashboard_options& o) {
    if (!g.url.empty() || !g.env.empty())
        throw usage_error("dashboard shows every environment of moonshift.toml",
                          "leave out --env and --url");
    printer out(g);
    auto cfg = load_config(g);
    if (cfg.envs.empty())
        throw usage_error("dashboard: moonshift.toml defines no environments",
                          "add [env.NAME] sections (docs/environments.md)");
    return o.out_dir.empty() ? serve(cfg, o, out) : write_out(cfg, o, out);
}

}  // namespace

void register_dashboard(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd = app.add_subcommand(
        "dashboard", "serve one page with every environment side by side (read only), or --out");
    auto o = std::make_shared<dashboard_options>();
    cmd->add_option("--port", o->port, "TCP port to serve on; 0 picks a free one (default 7780)")
        ->check(CLI::Range(0, 65535))
        ->envname("MOONSHIFT_DASHBOARD_PORT");
    cmd->add_option("--listen", o->listen,
                    "address to listen on (default 127.0.0.1; another one shows the page to "
                    "whoever reaches it)")
        ->envname("MOONSHIFT_DASHBOARD_LISTEN");
    cmd->add_option("--out", o->out_dir,
                    "write the page as static files into this directory (index.html, "
                    "dashboard.json) instead of serving it, e.g. for a CI artifact")
        ->envname("MOONSHIFT_DASHBOARD_OUT");
    cmd->add_option("--refresh", o->refresh, "seconds between the page's refreshes (default 5)")
        ->check(CLI::Range(1, 3600))
        ->envname("MOONSHIFT_DASHBOARD_REFRESH");
    cmd->add_option("--runs", o->runs, "runs per environment in its history (default 20)")
        ->check(CLI::Range(1, 1000))
        ->envname("MOONSHIFT_DASHBOARD_RUNS");
    cmd->callback([&g, &run, o] { run = [&g, o] { return dashboard(g, *o); }; });
}

}  // namespace moonshift::cli
