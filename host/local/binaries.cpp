// Finding the PostgreSQL server binaries: MOONSHIFT_PG_BINDIR, `pg_config --bindir`, or the
// newest /usr/lib/postgresql/<version>/bin; an existing cluster keeps the version that made it.
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <sstream>

#include "common/text.hpp"
#include "local/cluster.hpp"
#include "local/system.hpp"

namespace moonshift::local {
namespace fs = std::filesystem;
using namespace detail;

namespace {

const char* const install_hint = "install them with `apt-get install postgresql`";

bool has_server(const fs::path& dir) {
    for (const char* name : {"initdb", "pg_ctl", "postgres"}) {
        std::error_code ec;
        if (!fs::is_regular_file(dir / name, ec) || ::access((dir / name).c_str(), X_OK) != 0)
            return false;
    }
    return true;
}

std::optional<std::string> find_in_path(const std::string& program) {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        fs::path candidate = fs::path(dir.empty() ? "." : dir) / program;
        if (::access(candidate.c_str(), X_OK) == 0) return fs::absolute(candidate).string();
    }
    return std::nullopt;
}

// Debian keeps each major version in /usr/lib/postgresql/<version>/bin; the newest wins.
std::optional<std::string> newest_debian_bin_dir() {
    std::optional<std::string> best;
    double best_version = -1;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
        const std::string name = entry.path().filename().string();
        char* end = nullptr;
        const double version = std::strtod(name.c_str(), &end);
        if (end == name.c_str() || *end != '\0' || version <= best_version) continue;
        if (!has_server(entry.path() / "bin")) continue;
        best_version = version;
        best = (entry.path() / "bin").string();
    }
    return best;
}

}  // namespace

std::string cluster::find_bin_dir() {
    if (const char* env = std::getenv("MOONSHIFT_PG_BINDIR"); env && *env) {
        if (has_server(env)) return env;
        throw usage_error(std::string("no PostgreSQL server binaries (initdb, pg_ctl, postgres) in "
                                      "MOONSHIFT_PG_BINDIR=") +
                              env + "; " + install_hint,
                          "or point MOONSHIFT_PG_BINDIR at the bin directory of a server");
    }
    if (auto pg_config = find_in_path("pg_config")) {
        process_result r = run({*pg_config, "--bindir"}, account{});
        std::string dir = text::trim(r.output);
        if (r.status == 0 && has_server(dir)) return dir;
    }
    if (auto dir = newest_debian_bin_dir()) return *dir;
    throw usage_error(
        std::string("no PostgreSQL server binaries (initdb, pg_ctl, postgres) found; ") +
            install_hint,
        "looked in `pg_config --bindir` and /usr/lib/postgresql/*/bin; MOONSHIFT_PG_BINDIR may "
        "name another directory");
}

std::string cluster::bin_dir() const {
    if (bin_dir_.empty() && !std::getenv("MOONSHIFT_PG_BINDIR")) {
        // A cluster is run by the major version that made it, when that one is still installed.
        std::string version = text::trim(read_text(data_dir() / "PG_VERSION"));
        fs::path dir = fs::path("/usr/lib/postgresql") / version / "bin";
        if (!version.empty() && has_server(dir)) bin_dir_ = dir.string();
    }
    if (bin_dir_.empty()) bin_dir_ = find_bin_dir();
    return bin_dir_;
}

}  // namespace moonshift::local
