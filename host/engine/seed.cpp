// Seed files: found per environment, each loaded in its own transaction.
#include "engine/seed.hpp"

#include <algorithm>
#include <chrono>
#include <optional>

#include "catalog/formats.hpp"
#include "common/text.hpp"
#include "db/transaction.hpp"
#include "engine/run_scope.hpp"
#include "sql/sql.hpp"

namespace moonshift::seed {
namespace fs = std::filesystem;
namespace {

std::vector<fs::path> sql_files(const fs::path& dir) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file() && e.path().extension() == ".sql") out.push_back(e.path());
    std::sort(out.begin(), out.end(), [](const fs::path& a, const fs::path& b) {
        return a.filename().string() < b.filename().string();
    });
    return out;
}

std::string label_of(const fs::path& p, const fs::path& root) {
    std::error_code ec;
    auto rel = fs::relative(p, root, ec);
    return ec || rel.empty() ? p.string() : rel.string();
}

// The seed file the migrations' layout keeps beside its folder
// (supabase/seed.sql, which `supabase db reset` loads); nullopt when there is none.
std::optional<source> layout_seed(const project::config& cfg) {
    // A Supabase project whose supabase/migrations drizzle-kit writes is still Supabase's.
    if (auto file = cfg.root / "supabase" / "seed.sql";
        fs::exists(cfg.root / "supabase" / "config.toml") && fs::is_regular_file(file))
        return source{cfg.root / "supabase", {file}};
    auto dir = cfg.migrations_path();
    const auto* f = catalog::find_format(catalog::detect_format(dir, cfg.root));
    if (!f || f->seed_file.empty()) return std::nullopt;
    auto place = fs::is_directory(dir) ? dir.lexically_normal() : cfg.root / f->home;
    if (place.filename().empty()) place = place.parent_path();
    auto file = place.parent_path() / f->seed_file;
    if (!fs::is_regular_file(file)) return std::nullopt;
    return source{place.parent_path(), {file}};
}

}  // namespace

source find(const project::config& cfg, const std::string& env_name) {
    fs::path base = cfg.root / "seeds";
    if (!fs::is_directory(base))
        if (auto layout = layout_seed(cfg)) return *layout;
    if (!fs::is_directory(base))
        throw usage_error("there is no seeds/ folder in " + cfg.root.string(),
                          "put seed data in seeds/" + env_name +
                              "/*.sql (this environment) or seeds/*.sql (all "
                              "non-production environments)");
    source src;
    src.dir = fs::is_directory(base / env_name) ? base / env_name : base;
    src.files = sql_files(src.dir);
    if (src.files.empty())
        throw usage_error(label_of(src.dir, cfg.root) + "/ has no .sql files",
                          "seeds are loaded from seeds/" + env_name +
                              "/*.sql when that folder exists, else from "
                              "seeds/*.sql");
    return src;
}

void check_allowed(const project::environment& env) {
    if (env.is_production())
        throw usage_error(
            "environment \"" + env.name +
                "\" is a production environment: seeds are loaded into "
                "non-production environments only; nothing was changed",
            "if it is not production, say so with production = false in [env." + env.name + "]");
    if (env.read_only)
        throw usage_error("environment \"" + env.name +
                          "\" is read-only (read_only = true): nothing was changed");
}

nlohmann::json load(engine::engine& e, const source& src,
                    const std::function<void(const nlohmann::json&)>& loaded) {
    const auto& root = e.ctx().cfg.root;
    // Read them all first: an unreadable file stops the run before any loads.
    std::vector<std::pair<std::string, std::string>> files;
    for (const auto& f : src.files) {
        auto label = label_of(f, root);
        auto text = text::normalize_newlines(text::read_file(f));
        if (auto bad = text::invalid_utf8_at(text); bad != std::string::npos)
            throw usage_error(label + ": invalid UTF-8 at byte " + std::to_string(bad));
        files.emplace_back(label, std::move(text));
    }
    engine::run_scope run(e, "seed");
    auto& report = run.report();
    report["seed_dir"] = label_of(src.dir, root);
    report["seeds"] = nlohmann::json::array();
    auto& s = e.session();
    for (const auto& [label, sql] : files) {
        auto t0 = std::chrono::steady_clock::now();
        try {
            db::transaction tx(s);
            s.exec_script(sql);
            tx.commit();
        } catch (const db::sql_failure& f) {
            // Rolled back when `tx` went out of scope.
            std::optional<std::size_t> at;
            if (f.info().position > 0) at = 0;  // positions count from the start of the file
            bool connected = !f.info().sqlstate.empty() && f.info().sqlstate.rfind("08", 0) != 0;
            if (!at && connected) at = e.locate_failing_statement(sql);
            auto message = engine::describe_failure(label, sql, at, f.info());
            report["error"] = message;
            report["failed_file"] = label;
            run.finish("failed");
            throw error(
                exit_code::migration_failed, message,
                label +
                    " was rolled back; the files before it stay loaded. Fix it and run `moonshift "
                    "seed` again (keep seed files safe to run twice, e.g. ON CONFLICT DO NOTHING)");
        }
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - t0)
                      .count();
        nlohmann::json j = {{"file", label}, {"duration_ms", ms}};
        report["seeds"].push_back(j);
        if (loaded) loaded(j);
    }
    run.finish("ok");
    return report;
}

}  // namespace moonshift::seed
