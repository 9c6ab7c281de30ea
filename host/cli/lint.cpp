// `moonshift lint [FILES]`: lint SQL migrations with the built-in and the
// project's rules; `file:line:col severity rule: message` per finding, exit
// code 3 when there is an error.
#include "lint/lint.hpp"

#include <filesystem>
#include <memory>

#include "cli/common.hpp"
#include "common/text.hpp"

namespace moonshift::cli {
namespace {

namespace fs = std::filesystem;

struct lint_options {
    std::vector<std::string> files;
    bool offline = false;
    bool rules = false;
};

// A path for messages: relative to the project when inside it.
std::string label_for(const fs::path& file, const fs::path& root) {
    std::error_code ec;
    auto abs = fs::absolute(file, ec);
    auto rel = abs.lexically_normal().lexically_relative(root.lexically_normal());
    if (!rel.empty() && *rel.begin() != "..") return rel.generic_string();
    return file.generic_string();
}

int print_rules(printer& out, const lint::linter& linter) {
    for (const auto& r : linter.rules()) {
        out.line(out.bold(r.name) + "  " +
                 (r.severity == "error" ? out.red(r.severity) : out.yellow(r.severity)) + "  " +
                 r.description + out.dim("  (" + r.file + ")"));
        out.json_line({{"rule", r.name},
                       {"severity", r.severity},
                       {"description", r.description},
                       {"kinds", r.kinds},
                       {"catalog", r.catalog},
                       {"file", r.file}});
    }
    return 0;
}

int run_lint(const globals& g, const lint_options& o) {
    printer out(g);
    auto p = load_project(g, out);
    std::unique_ptr<engine::engine> e;
    // The catalog makes rules smarter (table sizes); without a database the
    // rules assume the worst of tables they cannot see.
    bool have_target = !o.offline && !o.rules &&
                       (!p.url.empty() || !p.cfg.envs.empty() || std::getenv("PGHOST") ||
                        std::getenv("PGDATABASE"));
    if (have_target) {
        try {
            engine::context ctx;
            ctx.cfg = p.cfg;
            ctx.env = p.env;
            ctx.url = p.url;
            e = std::make_unique<engine::engine>(ctx);
        } catch (const error& err) {
            out.warn(std::string("warning: linting offline: ") + err.what());
        }
    }
    lint::linter linter(p.cfg, e ? &e->session() : nullptr);
    if (o.rules) return print_rules(out, linter);

    // What to lint: the files named, else the pending migrations (all of
    // them without a database).
    struct input {
        std::string label, text;
    };
    std::vector<input> inputs;
    std::vector<bool> no_transaction;
    if (!o.files.empty()) {
        for (const auto& f : o.files) {
            inputs.push_back(
                {label_for(f, p.cfg.root), text::normalize_newlines(text::read_file(f))});
            no_transaction.push_back(inputs.back().text.find("moonshift:no-transaction") !=
                                     std::string::npos);
        }
    } else {
        auto cat = catalog::discover(p.cfg.migrations_path(), p.cfg.root);
        std::vector<const catalog::migration*> chosen;
        if (e) {
            auto plan = e->status();
            for (auto* entry : plan.to_apply(true))
                if (auto* m = cat.find(entry->version)) chosen.push_back(m);
        } else {
            for (const auto& m : cat.migrations) chosen.push_back(&m);
        }
        for (auto* m : chosen) {
            if (m->up_sql.empty() || m->up_label.size() < 4 ||
                m->up_label.compare(m->up_label.size() - 4, 4, ".sql") != 0)
                continue;
            inputs.push_back({m->up_label, m->up_sql});
            no_transaction.push_back(m->dir.no_transaction || m->dir.own_transaction);
        }
    }

    std::vector<std::unique_ptr<sql::script>> scripts;
    std::vector<lint::file> files;
    std::vector<lint::finding> syntax;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        try {
            scripts.push_back(
                std::make_unique<sql::script>(sql::parse(inputs[i].text, inputs[i].label)));
            files.push_back(
                {inputs[i].label, inputs[i].text, scripts.back().get(), no_transaction[i]});
        } catch (const sql::parse_error& err) {
            lint::finding f;
            f.rule = "syntax";
            f.severity = "error";
            f.file = inputs[i].label;
            f.line = err.line();
            f.column = err.column();
            f.message = err.reason();
            f.hint = err.hint();
            syntax.push_back(f);
        }
    }
    auto result = linter.run(files);
    std::vector<lint::finding> all = syntax;
    for (const auto& f : files)
        for (auto& x : lint::transaction_findings(f)) all.push_back(std::move(x));
    for (auto& x : result.findings) all.push_back(std::move(x));
    int errors = 0, warnings = 0, suppressed = 0;
    for (const auto& f : all) {
        if (f.suppressed)
            ++suppressed;
        else if (f.severity == "error")
            ++errors;
        else
            ++warnings;
        if (out.json()) {
            out.json_line(lint::to_json(f));
            continue;
        }
        if (f.suppressed && !g.verbose) continue;
        std::string where =
            f.file + ":" + std::to_string(f.line) + ":" + std::to_string(f.column) + ":";
        std::string sev = f.suppressed            ? out.dim("allowed")
                          : f.severity == "error" ? out.red("error")
                                                  : out.yellow("warning");
        out.line(out.bold(where) + " " + sev + " " + f.rule + ": " + f.message +
                 (f.suppressed ? out.dim(" (" + f.reason + ")") : ""));
        if (!f.hint.empty() && !f.suppressed) out.line(out.dim("    hint: " + f.hint));
    }
    std::string summary = std::to_string(files.size() + syntax.size()) +
                          " file(s): " + std::to_string(errors) + " error(s), " +
                          std::to_string(warnings) + " warning(s)" +
                          (suppressed ? ", " + std::to_string(suppressed) + " allowed" : "");
    out.line(errors ? out.red(summary) : warnings ? out.yellow(summary) : out.green(summary));
    out.json_line({{"result", "lint"},
                   {"files", files.size() + syntax.size()},
                   {"errors", errors},
                   {"warnings", warnings},
                   {"suppressed", suppressed},
                   {"catalog", e != nullptr}});
    return errors ? static_cast<int>(exit_code::check_failed) : 0;
}

}  // namespace

void register_lint(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd = app.add_subcommand(
        "lint",
        "lint SQL migrations (the pending ones, or FILES) with the built-in and project rules");
    auto o = std::make_shared<lint_options>();
    cmd->add_option("files", o->files, "SQL files to lint (default: the pending migrations)")
        ->check(CLI::ExistingFile);
    cmd->add_flag("--offline", o->offline,
                  "do not connect: table sizes are unknown, rules assume the worst")
        ->envname("MOONSHIFT_LINT_OFFLINE");
    cmd->add_flag("--rules", o->rules, "list the rules and exit");
    cmd->callback([&g, &run, o] { run = [&g, o] { return run_lint(g, *o); }; });
}

}  // namespace moonshift::cli
