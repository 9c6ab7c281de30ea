// `moonshift init` and `moonshift new NAME`: start a project, start a migration.
#include <cctype>
#include <ctime>
#include <fstream>
#include <regex>

#include "catalog/catalog.hpp"
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

}  // namespace

void register_init(CLI::App& app, globals& g, command_fn& run) {
    auto* cmd =
        app.add_subcommand("init", "write a commented starter project in the current directory");
    cmd->callback([&g, &run] {
        run = [&g] {
            printer out(g);
            write_new("moonshift.toml", project::starter_config(), out);
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
            out.json_line({{"result", "init"}});
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
            fs::create_directories(dir);
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
            // Follow the project's style: timestamps if it uses them, else the
            // next number with the same zero padding.
            bool ts = *timestamp;
            std::size_t width = 3;
            std::string last = versions.empty() ? "" : versions.back();
            for (auto& v : versions) {
                if (v.size() >= 12) ts = true;
                width = std::max(width, v.size());
            }
            std::string version;
            if (ts) {
                std::time_t now = std::time(nullptr);
                char buf[32];
                std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", std::gmtime(&now));
                version = buf;
                if (!last.empty() && catalog::compare_versions(version, last) <= 0)
                    version = plus_one(last);
            } else {
                version = last.empty() ? "1" : plus_one(last);
                if (version.size() < width)
                    version = std::string(width - version.size(), '0') + version;
            }
            auto up = dir / (version + "_" + *name + ".sql");
            auto down = dir / (version + "_" + *name + ".down.sql");
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
