// `moonshift import --from TOOL`: adopt a database another tool migrated.
#include "engine/import.hpp"

#include "cli/common.hpp"

namespace moonshift::cli {

void register_import(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd =
        app.add_subcommand("import",
                           "record what another tool applied (its history table) as applied; "
                           "nothing is re-applied");
    auto opts = std::make_shared<engine::import_options>();
    std::vector<std::string> tools;
    for (auto& [tool, table] : engine::import_sources()) tools.push_back(tool);
    cmd->add_option("--from", opts->from, "the tool whose history to read")
        ->required()
        ->check(CLI::IsMember(tools))
        ->envname("MOONSHIFT_IMPORT_FROM");
    cmd->add_option("--table", opts->table,
                    "its history table, when not the tool's default (schema.table)")
        ->envname("MOONSHIFT_IMPORT_TABLE");
    cmd->add_flag("--dry-run", opts->dry_run, "show what would be recorded, change nothing")
        ->envname("MOONSHIFT_DRY_RUN");
    cmd->callback([&g, &run, opts] {
        run = [&g, opts] {
            printer out(g);
            engine::engine e(make_context(g, out));
            auto result = engine::import_history(e, *opts);
            auto& rep = result.report;
            auto list = [&](const char* key, const std::string& title, bool warn) {
                if (rep[key].empty()) return;
                std::string text = title + ":";
                for (auto& x : rep[key]) {
                    text += "\n  " + x.value("version", x.value("name", ""));
                    if (x.contains("name") && x.contains("version"))
                        text += "_" + x["name"].get<std::string>();
                    if (!x.value("detail", "").empty())
                        text += "  (" + x["detail"].get<std::string>() + ")";
                    if (!x.value("state", "").empty()) text += "  " + x["state"].get<std::string>();
                }
                if (warn)
                    out.warn(out.yellow("warning: ") + text);
                else
                    out.line(text);
            };
            list("imported", opts->dry_run ? "Would record" : "Recorded as applied", false);
            list("already_recorded", "Already in moonshift's history", false);
            list("not_in_database", "On disk but not applied by " + opts->from + " (pending)",
                 false);
            list("not_on_disk", "Applied by " + opts->from + " but not on disk", true);
            list("changed_on_disk", "Changed on disk since " + opts->from + " applied them", true);
            list("repeatables", "Repeatable migrations", false);
            out.line(
                out.green((opts->dry_run ? "Would import " : "Imported ") +
                          std::to_string(result.count) + " migration(s) from " +
                          rep.value("table", "")) +
                out.dim(" (nothing re-applied; " + rep.value("table", "") + " left as it is)"));
            out.json_line({{"result", "import"}, {"count", result.count}, {"report", rep}});
            return 0;
        };
    });
}

}  // namespace moonshift::cli
