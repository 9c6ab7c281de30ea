// `moonshift init` and `moonshift new NAME`: start a project, start a migration.
#include <cctype>
#include <ctime>
#include <fstream>
#include <optional>
#include <regex>

#include "catalog/catalog.hpp"
#include "catalog/formats.hpp"
#include "cli/common.hpp"

namespace moonshift::cli {
namespace fs = std::filesystem;

namespace {

// The leading number of a version, plus one, in decimal text: versions may be
// longer than any integer type (a 30-digit one is fine).
std::string plus_one(const std::string& version) {
    std::size_t n = 0;
    while (n < version.size() && std::isdigit(static_cast<unsigned char>(version[n]))) ++n;
    std::string digits = n ? version.substr(0, n) : "0";
    for (std::size_t i = digits.size(); i-- > 0;) {
        if (digits[i] != '9') {
            ++digits[i];
            return digits;
        }
        digits[i] = '0';
    }
    return "1" + digits;
}

void write_new(const fs::path& p, const std::string& content, printer& out) {
    auto shown = p.is_absolute() ? p.lexically_relative(fs::current_path()) : p;
    if (shown.empty() || shown.native().rfind("..", 0) == 0) shown = p;
    if (fs::exists(p)) {
        out.line("exists   " + shown.string());
        return;
    }
    fs::create_directories(p.parent_path().empty() ? fs::path(".") : p.parent_path());
    std::ofstream(p) << content;
    out.line("created  " + shown.string());
}

// The next version in `dir`, following the project's style: timestamps if
// it uses them (or `timestamp`), else the next number with the same zero padding.
std::string next_version(const fs::path& dir, bool timestamp) {
    // Only the names matter here: a half-written migration must not
    // stop the next one from being created.
    static const std::regex versioned(R"(^(\d+)_)");
    std::vector<std::string> versions;
    for (auto& e : fs::directory_iterator(dir)) {
        std::smatch m;
        std::string f = e.path().filename().string();
        if (std::regex_search(f, m, versioned)) versions.push_back(m[1]);
    }
    std::sort(versions.begin(), versions.end(),
              [](auto& a, auto& b) { return catalog::compare_versions(a, b) < 0; });
    bool ts = timestamp;
    std::size_t width = 3;
    std::string last = versions.empty() ? "" : versions.back();
    for (auto& v : versions) {
        if (v.size() >= 12) ts = true;
        width = std::max(width, v.size());
    }
    if (ts) {
        std::time_t now = std::time(nullptr);
        char buf[32];
        std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", std::gmtime(&now));
        std::string version = buf;
        if (!last.empty() && catalog::compare_versions(version, last) <= 0)
            version = plus_one(last);
        return version;
    }
    std::string version = last.empty() ? "1" : plus_one(last);
    if (version.size() < width) version = std::string(width - version.size(), '0') + version;
    return version;
}

// drizzle-kit and Prisma write their migrations with their bookkeeping (the
// journal, the folder): a file moonshift wrote alone would be missing from it.
void refuse_tool_generated(const std::string& fmt) {
    if (fmt == "drizzle")
        throw usage_error("the migrations are drizzle-kit's: a new one needs its journal entry",
                          "run `drizzle-kit generate` (or `drizzle-kit generate --custom --name "
                          "NAME` for hand-written SQL); moonshift reads it as it is");
    if (fmt == "prisma")
        throw usage_error("the migrations are Prisma's: `prisma migrate dev` writes new ones",
                          "run `prisma migrate dev --create-only --name NAME`; moonshift reads "
                          "the folder as it is");
}

// Another tool's project in the current directory: where its migrations are
// and which history table to keep current, so that adopting moonshift takes
// no renaming and the tool keeps telling the truth.
struct layout {
    std::string tool, migrations;
};

std::optional<layout> detected_layout() {
    if (fs::exists("supabase/config.toml")) return layout{"supabase", "supabase/migrations"};
    if (fs::exists("drizzle/meta/_journal.json")) return layout{"drizzle", "drizzle"};
    if (fs::exists("prisma/migrations/migration_lock.toml"))
        return layout{"prisma", "prisma/migrations"};
    return std::nullopt;
}

std::string config_for(const std::optional<layout>& found) {
    auto text = project::starter_config();
    if (!found) return text;
    const std::string line = "migrations = \"migrations\"\n";
    auto at = text.find(line);
    if (at == std::string::npos) return text;
    text.replace(at, line.size(),
                 "migrations = \"" + found->migrations + "\"   # " + found->tool +
                     "'s folder, read as it is (docs/formats.md)\n"
                     "# `up` and `down` keep " +
                     found->tool + "'s own history table current too (docs/supabase.md).\n" +
                     "keep_history = \"" + found->tool + "\"\n");
    const std::string local_env = "[env.local]\nlocal = true\n";
    at = text.find(local_env);
    if (found->tool == "supabase" && at != std::string::npos)
        text.insert(
            at + local_env.size(),
            "\n# The private cluster in Supabase's shape: roles anon, authenticated,\n"
            "# service_role; auth.users, auth.uid(), auth.jwt(); a storage stub (docs/local.md).\n"
            "[local]\n"
            "supabase = true\n");
    return text;
}

}  // namespace

void register_init(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd =
        app.add_subcommand("init", "write a commented starter project in the current directory");
    cmd->callback([&g, &run] {
        run = [&g] {
            printer out(g);
            auto found = detected_layout();
            write_new("moonshift.toml", config_for(found), out);
            if (found)
                out.line("found    " + found->tool + "'s project: migrations in " +
                         found->migrations);
            else
                write_new("migrations/.gitkeep", "", out);
            write_new("scripts/.gitkeep", "", out);
            write_new("hooks/.gitkeep", "", out);
            std::string ignore;
            if (fs::exists(".gitignore")) {
                std::ifstream in(".gitignore");
                ignore.assign(std::istreambuf_iterator<char>(in), {});
            }
            if (ignore.find(".moonshift/") == std::string::npos) {
                std::ofstream(".gitignore", std::ios::app)
                    << (ignore.empty() || ignore.back() == '\n' ? "" : "\n")
                    << "# moonshift's private local cluster\n.moonshift/\n";
                out.line("updated  .gitignore");
            }
            out.line("Next: `moonshift new create_users`, then `moonshift up`.");
            out.json_line({{"result", "init"}, {"layout", found ? found->tool : "native"}});
            return 0;
        };
    });
}

void register_new(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd = app.add_subcommand(
        "new", "create the next migration (and its down script) from a template");
    auto name = std::make_shared<std::string>();
    auto timestamp = std::make_shared<bool>(false);
    cmd->add_option("NAME", *name, "what it does, in snake_case")->required();
    cmd->add_flag("--timestamp", *timestamp, "use a UTC timestamp version (20250108120000)");
    cmd->callback([&g, &run, name, timestamp] {
        run = [&g, name, timestamp] {
            printer out(g);
            static const std::regex ok(R"(^[A-Za-z0-9_\-]+$)");
            if (!std::regex_match(*name, ok))
                throw usage_error("\"" + *name + "\" is not a valid migration name",
                                  "use letters, digits, _ and -, e.g. add_users_email");
            auto cfg = load_config(g);
            auto dir = cfg.migrations_path();
            auto fmt = catalog::detect_format(dir, cfg.root);
            refuse_tool_generated(fmt);
            bool supabase = fmt == "supabase";
            if (supabase && !fs::is_directory(dir)) dir = cfg.root / "supabase/migrations";
            fs::create_directories(dir);
            // The Supabase CLI's convention: UTC timestamps (supabase migration new).
            auto version = next_version(dir, *timestamp || supabase);
            auto up = dir / (version + "_" + *name + ".sql");
            // Never a .down.sql inside supabase/migrations, which the Supabase CLI would take
            // for a migration: the down goes to the rollbacks folder (supabase/rollbacks).
            auto rollbacks = cfg.rollbacks_dir.empty()
                                 ? dir.lexically_normal().parent_path() / "rollbacks"
                                 : cfg.rollbacks_path();
            auto down = supabase ? rollbacks / (version + "_rollback_" + *name + ".sql")
                                 : dir / (version + "_" + *name + ".down.sql");
            write_new(
                up,
                "-- " + version + "_" + *name +
                    "\n"
                    "-- Runs in one transaction with its history row: all of it applies, or none.\n"
                    "-- Directives (optional, at the top): -- moonshift:no-transaction, -- "
                    "moonshift:requires VERSION\n\n",
                out);
            write_new(down,
                      "-- Undoes " + version + "_" + *name + " (used by `moonshift down`).\n\n",
                      out);
            out.json_line({{"result", "new"},
                           {"version", version},
                           {"up", up.string()},
                           {"down", down.string()}});
            return 0;
        };
    });
}

}  // namespace moonshift::cli
