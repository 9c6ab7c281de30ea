// `moonshift lint [FILES]`: lint SQL migrations with the built-in and the
// project's rules; `file:line:col severity rule: message` per finding, exit
// code 3 when there is an error.
#include "lint/lint.hpp"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <filesystem>
#include <fstream>
#include <memory>
#include <tuple>

#include "cli/common.hpp"
#include "common/text.hpp"
#include "lint/baseline.hpp"

namespace moonshift::cli {
namespace {

namespace fs = std::filesystem;

struct lint_options {
    std::vector<std::string> files;
    bool offline = false;
    bool rules = false;
    bool baseline = false;  // record every finding of the history as accepted
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

// The catalog makes rules smarter (table sizes); without a database the
// rules assume the worst of tables they cannot see. Null: offline.
std::unique_ptr<engine::engine> connect_for_lint(const lint_options& o, const project_env& p,
                                                 printer& out) {
    bool have_target = !o.offline && !o.rules &&
                       (!p.url.empty() || !p.cfg.envs.empty() || std::getenv("PGHOST") ||
                        std::getenv("PGDATABASE"));
    if (!have_target) return nullptr;
    try {
        engine::context ctx;
        ctx.cfg = p.cfg;
        ctx.env = p.env;
        ctx.url = p.url;
        return std::make_unique<engine::engine>(ctx);
    } catch (const error& err) {
        out.warn(std::string("warning: linting offline: ") + err.what());
        return nullptr;
    }
}

struct lint_input {
    std::string label, text;
    bool no_transaction = false;
};

// What to lint: the files named, else the pending migrations (all of them
// without a database).
std::vector<lint_input> lint_inputs(const lint_options& o, const project_env& p,
                                    engine::engine* e) {
    std::vector<lint_input> inputs;
    if (!o.files.empty()) {
        for (const auto& f : o.files) {
            auto text = text::normalize_newlines(text::read_file(f));
            bool no_tx = text.find("moonshift:no-transaction") != std::string::npos;
            inputs.push_back({label_for(f, p.cfg.root), std::move(text), no_tx});
        }
        return inputs;
    }
    auto cat = catalog::discover(p.cfg.migrations_path(), p.cfg.root, p.cfg.rollbacks_path());
    std::vector<const catalog::migration*> chosen;
    if (e && !o.baseline) {
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
        inputs.push_back({m->up_label, m->up_sql, m->dir.no_transaction || m->dir.own_transaction});
    }
    return inputs;
}

// The inputs parsed: files for the linter, and a "syntax" finding for each
// one that does not parse.
struct parsed_inputs {
    std::vector<std::unique_ptr<sql::script>> scripts;
    std::vector<lint::file> files;
    std::vector<lint::finding> syntax;
};

void parse_inputs(const std::vector<lint_input>& inputs, parsed_inputs& out) {
    for (const auto& in : inputs) {
        try {
            out.scripts.push_back(std::make_unique<sql::script>(sql::parse(in.text, in.label)));
            out.files.push_back({in.label, in.text, out.scripts.back().get(), in.no_transaction});
        } catch (const sql::parse_error& err) {
            lint::finding f;
            f.rule = "syntax";
            f.severity = "error";
            f.file = in.label;
            f.line = err.line();
            f.column = err.column();
            f.message = err.reason();
            f.hint = err.hint();
            out.syntax.push_back(f);
        }
    }
}

struct lint_counts {
    int errors = 0, warnings = 0, suppressed = 0;
};

lint_counts print_findings(const globals& g, printer& out, const std::vector<lint::finding>& all) {
    lint_counts n;
    for (const auto& f : all) {
        if (f.suppressed)
            ++n.suppressed;
        else if (f.severity == "error")
            ++n.errors;
        else
            ++n.warnings;
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
    return n;
}

std::size_t count_of(const parsed_inputs& in) { return in.files.size() + in.syntax.size(); }

// `lint --baseline`: every finding of the whole history, accepted.
int write_baseline(printer& out, const project_env& p, const std::vector<lint::finding>& all,
                   const parsed_inputs& in, std::size_t files) {
    auto b = lint::load_baseline(p.cfg);
    auto doc = lint::baseline_json(all, in.files);
    auto shown = b.path.lexically_relative(p.cfg.root).generic_string();
    {
        std::ofstream f(b.path, std::ios::binary | std::ios::trunc);
        f << doc.dump(2) << "\n";
        if (!f)
            throw usage_error("cannot write the lint baseline " + shown,
                              "check that its folder exists and is writable ([lint] baseline)");
    }
    std::size_t n = doc["findings"].size();
    out.line(out.green("Recorded " + std::to_string(n) + " finding(s) of " + std::to_string(files) +
                       " file(s) in " + shown) +
             out.dim(": `moonshift lint` and `up` no longer report them; new migrations are "
                     "judged as before. Commit " +
                     shown + "."));
    out.json_line(
        {{"result", "lint baseline"}, {"file", shown}, {"findings", n}, {"files", files}});
    return 0;
}

// Parsing and linting build and free many small objects (parse trees, Lua
// tables): the process keeps what it frees instead of handing it back to the
// system after each statement and taking it again, page by page, for the
// next (about a tenth of the time of `lint` on 1,000 statements). A short
// process: nothing is held longer than the command runs.
void keep_freed_memory() {
#ifdef __GLIBC__
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_TOP_PAD, 16 << 20);
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
#endif
}

int run_lint(const globals& g, const lint_options& o) {
    keep_freed_memory();
    printer out(g);
    auto p = load_project(g, out);
    auto e = connect_for_lint(o, p, out);
    auto linter = e ? e->make_linter() : std::make_unique<lint::linter>(p.cfg, nullptr);
    if (o.rules) return print_rules(out, *linter);

    // The parsed scripts and lint files point into the inputs' text: it lives here.
    auto inputs = lint_inputs(o, p, e.get());
    parsed_inputs in;
    parse_inputs(inputs, in);
    auto findings_of = [&in](lint::linter& l) {
        std::vector<lint::finding> all = in.syntax;
        for (const auto& f : in.files)
            for (auto& x : lint::transaction_findings(f)) all.push_back(std::move(x));
        for (auto& x : l.run(in.files).findings) all.push_back(std::move(x));
        return all;
    };
    auto all = findings_of(*linter);
    if (o.baseline) {
        // What the rules find offline (sizes unknown: the worst) and with the
        // target, both: a later run of either kind finds nothing new.
        if (e) {
            lint::linter offline(p.cfg, nullptr);
            for (auto& x : findings_of(offline)) all.push_back(std::move(x));
        }
        return write_baseline(out, p, all, in, count_of(in));
    }
    lint::apply_baseline(all, in.files, lint::load_baseline(p.cfg));
    auto n = print_findings(g, out, all);
    auto count = count_of(in);
    std::string summary = std::to_string(count) + " file(s): " + std::to_string(n.errors) +
                          " error(s), " + std::to_string(n.warnings) + " warning(s)" +
                          (n.suppressed ? ", " + std::to_string(n.suppressed) + " allowed" : "");
    out.line(n.errors ? out.red(summary) : n.warnings ? out.yellow(summary) : out.green(summary));
    out.json_line({{"result", "lint"},
                   {"files", count},
                   {"errors", n.errors},
                   {"warnings", n.warnings},
                   {"suppressed", n.suppressed},
                   {"catalog", e != nullptr}});
    // The command ends the process: its parse trees and Lua state are left
    // for the system to take back at once, not freed node by node (a tenth
    // of `lint` on 1,000 statements).
    static auto* left = new std::tuple<parsed_inputs, std::unique_ptr<lint::linter>>(
        std::move(in), std::move(linter));
    (void)left;
    return n.errors ? static_cast<int>(exit_code::check_failed) : 0;
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
    cmd->add_flag("--baseline", o->baseline,
                  "record every finding of the whole history as accepted ([lint] baseline, "
                  "default lint-baseline.json): later runs judge only what is new");
    cmd->callback([&g, &run, o] { run = [&g, o] { return run_lint(g, *o); }; });
}

}  // namespace moonshift::cli
