// `moonshift convert --to native OUTDIR`: rewrite another tool's directory
// into moonshift's layout. Reads files only; never connects.
#include "catalog/formats.hpp"
#include "cli/common.hpp"

namespace moonshift::cli {

void register_convert(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd = app.add_subcommand("convert",
                                   "rewrite the migrations directory into moonshift's own layout");
    auto to = std::make_shared<std::string>();
    auto outdir = std::make_shared<std::string>();
    cmd->add_option("--to", *to, "the layout to write")
        ->required()
        ->check(CLI::IsMember({catalog::own_format().name}));
    cmd->add_option("OUTDIR", *outdir, "a new directory for the converted files")->required();
    cmd->callback([&g, &run, to, outdir] {  // the options write through these: keep them alive
        run = [&g, to, outdir] {
            printer out(g);
            auto cfg = load_config(g);
            auto cat = catalog::discover(cfg.migrations_path(), cfg.root);
            std::filesystem::path target(*outdir);
            if (target.is_relative()) target = std::filesystem::current_path() / target;
            auto result = catalog::convert_to_native(cat, target.lexically_normal(), cfg.root);
            for (auto& f : result.written) out.line("wrote    " + f);
            for (auto& n : result.notes) out.warn(out.yellow("note: ") + n);
            out.line(out.green("Converted " + std::to_string(cat.migrations.size()) + " " +
                               cat.format + " migration(s)") +
                     out.dim(" — set [project] migrations = \"" + *outdir +
                             "\" in moonshift.toml to use them"));
            out.json_line({{"result", "convert"},
                           {"from", cat.format},
                           {"written", result.written},
                           {"notes", result.notes}});
            return 0;
        };
    });
}

}  // namespace moonshift::cli
