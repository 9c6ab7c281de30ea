// `moonshift local start|stop|status|url|reset`: the project's private PostgreSQL.
#include "cli/common.hpp"
#include "common/text.hpp"
#include "engine/local_shape.hpp"
#include "local/cluster.hpp"

namespace moonshift::cli {

namespace {

// supabase: the project asks for the Supabase shape ([local] supabase), so the running
// cluster's database has it.
void show_state(const globals& g, const local::state& s, bool supabase) {
    printer out(g);
    nlohmann::json j = {
        {"initialized", s.initialized},    {"running", s.running},       {"port", s.port},
        {"data_dir", s.data_dir.string()}, {"url", text::redact(s.url)}, {"bin_dir", s.bin_dir}};
    if (s.running) j["supabase"] = supabase;
    out.json_line(j);
    if (s.running)
        out.line(out.green("running") + " on 127.0.0.1:" + std::to_string(s.port) + " (pid " +
                 std::to_string(s.pid) + "), data in " + s.data_dir.string());
    else
        out.line(std::string(s.initialized ? "stopped" : "not created") +
                 (s.initialized ? ", data in " + s.data_dir.string() : std::string()));
    if (s.running && supabase)
        out.line(
            "Supabase shape: roles anon, authenticated, service_role; schemas auth "
            "(auth.users, auth.uid()), storage, extensions");
}

}  // namespace

void register_local(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd =
        app.add_subcommand("local", "run a private PostgreSQL for this project (.moonshift/local)");
    cmd->require_subcommand(1);
    auto root = [&g] {
        auto cfg = project::load(g.config, g.config_given);
        return cfg.root / ".moonshift" / "local";
    };
    auto show = [&g](const local::state& s, bool supabase = false) { show_state(g, s, supabase); };
    cmd->add_subcommand("start", "create (first time) and start the cluster")
        ->callback([&g, &run, show] {
            run = [&g, show] {
                auto started = engine::start_local(project::load(g.config, g.config_given));
                show(started.state, started.supabase);
                return 0;
            };
        });
    cmd->add_subcommand("stop", "stop the cluster")->callback([&g, &run, root] {
        run = [&g, root] {
            local::cluster c(root());
            c.stop();
            printer out(g);
            out.line("stopped");
            out.json_line({{"running", false}});
            return 0;
        };
    });
    cmd->add_subcommand("status", "is it running, where, on which port")
        ->callback([&g, &run, show] {
            run = [&g, show] {
                auto cfg = project::load(g.config, g.config_given);
                show(local::cluster(cfg.root / ".moonshift" / "local").status(),
                     engine::local_supabase(cfg));
                return 0;
            };
        });
    cmd->add_subcommand("url", "print the connection URL")->callback([&g, &run, root] {
        run = [&g, root] {
            local::cluster c(root());
            // The URL is what the user asked for, password included.
            std::string url = c.url();
            if (g.json)
                std::printf("%s\n", nlohmann::json({{"url", url}}).dump().c_str());
            else
                std::printf("%s\n", url.c_str());
            return 0;
        };
    });
    cmd->add_subcommand("reset", "delete the cluster's data and start afresh")
        ->callback([&g, &run, show] {
            run = [&g, show] {
                if (!g.yes)
                    throw usage_error("reset deletes every database of the local cluster",
                                      "run `moonshift local reset --yes` to confirm");
                auto cfg = project::load(g.config, g.config_given);
                local::cluster c(cfg.root / ".moonshift" / "local");
                c.reset();
                auto shaped = engine::shape_local(cfg, c.status(), true);
                show(shaped.state, shaped.supabase);
                return 0;
            };
        });
}

}  // namespace moonshift::cli
