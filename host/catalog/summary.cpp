// The catalog without the files' contents, kept between runs: `status` over
// a thousand migrations would read two thousand files to learn that nothing
// changed. Like git's index, a cache file remembers what discover() found,
// under a signature of every file and folder it looks at (name, type, size,
// mtime, ctime, inode; and the binary's own); when the signature is the same,
// nothing is read.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>

#include "catalog/catalog.hpp"
#include "catalog/formats.hpp"

namespace moonshift::catalog {
namespace fs = std::filesystem;

namespace {

constexpr const char* header = "moonshift catalog summary 1 " MOONSHIFT_VERSION;
constexpr std::size_t most_entries = 20000;     // a larger tree is read every time
constexpr long long racy_ns = 2'000'000'000LL;  // see write_cache

long long ns_of(const struct timespec& t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

struct signature {
    std::string text;
    long long newest_ns = 0;  // the latest mtime or ctime seen
    std::size_t entries = 0;
};

void add_stat(signature& s, const std::string& name, const struct stat& st) {
    long long m = ns_of(st.st_mtim), c = ns_of(st.st_ctim);
    s.newest_ns = std::max({s.newest_ns, m, c});
    s.text += name + (S_ISDIR(st.st_mode) ? " d " : " f ") + std::to_string(st.st_size) + " " +
              std::to_string(m) + " " + std::to_string(c) + " " + std::to_string(st.st_ino) + "\n";
}

// The entries of `path` (names starting with a dot are never migrations) by
// name, each with its stat; into subfolders when `deep`.
void walk(signature& s, const std::string& path, const std::string& label, bool deep, int depth) {
    if (s.entries > most_entries) return;  // too large to cache: no need to look further
    DIR* d = opendir(path.c_str());
    if (!d) {
        s.text += label + " absent\n";
        return;
    }
    std::vector<std::string> names;
    while (auto* e = readdir(d))
        if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
        struct stat st {};
        if (++s.entries > most_entries) break;
        if (fstatat(dirfd(d), name.c_str(), &st, 0) != 0) {
            s.text += label + "/" + name + " unreadable\n";
            continue;
        }
        add_stat(s, label + "/" + name, st);
        if (deep && S_ISDIR(st.st_mode) && depth < 8)
            walk(s, path + "/" + name, label + "/" + name, true, depth + 1);
    }
    closedir(d);
}

signature sign(const fs::path& dir, const fs::path& root, const fs::path& rollbacks) {
    signature s;
    s.text = std::string(header) + "\n" + dir.string() + "\n" + root.string() + "\n" +
             rollbacks.string() + "\n";
    struct stat self {};
    if (stat("/proc/self/exe", &self) == 0) add_stat(s, "moonshift", self);
    walk(s, root.string(), "root", false, 0);  // marker files, other tools' homes, config files
    auto place = place_of(dir, root);
    if (place) {
        walk(s, place->string(), "place", true, 0);
        // Seed files and another tool's config beside it (supabase/config.toml), and the
        // rollbacks folder a foreign layout reads there (catalog.cpp).
        if (place->parent_path() != root)
            walk(s, place->parent_path().string(), "beside", false, 0);
        walk(s, (place->parent_path() / "rollbacks").string(), "beside-rollbacks", true, 0);
    }
    if (!rollbacks.empty()) walk(s, rollbacks.string(), "rollbacks", true, 0);
    return s;
}

// One field per tab; tabs, newlines and backslashes escaped.
std::string escaped(const std::string& v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\t')
            out += "\\t";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::vector<std::string> fields_of(const std::string& line) {
    std::vector<std::string> out(1);
    for (std::size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        if (c == '\t') {
            out.emplace_back();
        } else if (c == '\\' && i + 1 < line.size()) {
            char n = line[++i];
            out.back() += n == 't' ? '\t' : n == 'n' ? '\n' : n;
        } else {
            out.back() += c;
        }
    }
    return out;
}

std::string joined(const std::vector<std::string>& list) {
    std::string out;
    for (const auto& v : list) out += (out.empty() ? "" : "\n") + v;
    return out;
}

std::vector<std::string> split_list(const std::string& v) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (!v.empty() && start <= v.size()) {
        auto end = v.find('\n', start);
        if (end == std::string::npos) end = v.size();
        out.push_back(v.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

constexpr std::size_t field_count = 22;

std::string line_of(char tag, const migration& m) {
    const auto& d = m.dir;
    std::vector<std::string> f = {std::string(1, tag),
                                  m.version,
                                  m.name,
                                  std::to_string(static_cast<int>(m.kind)),
                                  m.up.string(),
                                  m.down.string(),
                                  m.up_label,
                                  m.down_label,
                                  m.down_has_sql ? "1" : "0",
                                  m.checksum,
                                  m.legacy_checksum,
                                  m.verify_label,
                                  m.precheck_label,
                                  m.backfill_label,
                                  std::to_string(m.tool_when),
                                  std::string(d.no_transaction ? "n" : "-") +
                                      (d.own_transaction ? "o" : "-") +
                                      (d.down_own_transaction ? "d" : "-"),
                                  d.down_refused,
                                  d.down_refused_hint,
                                  d.converted_from,
                                  joined(d.requires_versions),
                                  joined(d.tags),
                                  joined(d.changes)};
    std::string out;
    for (const auto& v : f) out += (out.empty() ? "" : "\t") + escaped(v);
    return out + "\n";
}

bool read_line(const std::vector<std::string>& f, migration& m) {
    if (f.size() != field_count) return false;
    m.version = f[1];
    m.name = f[2];
    m.kind = static_cast<form>(std::atoi(f[3].c_str()));
    m.up = f[4];
    m.down = f[5];
    m.up_label = f[6];
    m.down_label = f[7];
    m.down_has_sql = f[8] == "1";
    m.checksum = f[9];
    m.legacy_checksum = f[10];
    m.verify_label = f[11];
    m.precheck_label = f[12];
    m.backfill_label = f[13];
    m.tool_when = std::atoll(f[14].c_str());
    m.dir.no_transaction = f[15].size() == 3 && f[15][0] == 'n';
    m.dir.own_transaction = f[15].size() == 3 && f[15][1] == 'o';
    m.dir.down_own_transaction = f[15].size() == 3 && f[15][2] == 'd';
    m.dir.down_refused = f[16];
    m.dir.down_refused_hint = f[17];
    m.dir.converted_from = f[18];
    m.dir.requires_versions = split_list(f[19]);
    m.dir.tags = split_list(f[20]);
    m.dir.changes = split_list(f[21]);
    return true;
}

// The header, the signature's length and the signature as it is (it ends
// with a newline), then one line per fact.
std::string cache_text(const std::string& sig, const catalog& cat) {
    std::string out = std::string(header) + "\n" + std::to_string(sig.size()) + "\n" + sig;
    out += "format\t" + escaped(cat.format) + "\nproject\t" + escaped(cat.project) + "\n";
    for (const auto& n : cat.notes) out += "note\t" + escaped(n) + "\n";
    for (const auto& m : cat.migrations) out += line_of('m', m);
    for (const auto& m : cat.repeatables) out += line_of('r', m);
    for (const auto& m : cat.baselines) out += line_of('b', m);
    return out;
}

std::optional<catalog> read_cache(const fs::path& file, const std::string& sig) {
    std::ifstream in(file, std::ios::binary);
    std::string line;
    if (!std::getline(in, line) || line != header) return std::nullopt;
    if (!std::getline(in, line) || line != std::to_string(sig.size())) return std::nullopt;
    std::string stored(sig.size(), '\0');
    if (!in.read(stored.data(), static_cast<std::streamsize>(stored.size())) || stored != sig)
        return std::nullopt;
    catalog cat;
    while (std::getline(in, line)) {
        auto f = fields_of(line);
        if (f[0] == "format" && f.size() == 2) {
            cat.format = f[1];
        } else if (f[0] == "project" && f.size() == 2) {
            cat.project = f[1];
        } else if (f[0] == "note" && f.size() == 2) {
            cat.notes.push_back(f[1]);
        } else {
            auto* list = f[0] == "m"   ? &cat.migrations
                         : f[0] == "r" ? &cat.repeatables
                         : f[0] == "b" ? &cat.baselines
                                       : nullptr;
            migration m;
            if (!list || !read_line(f, m)) return std::nullopt;  // not a line this writes
            list->push_back(std::move(m));
        }
    }
    if (cat.format.empty()) return std::nullopt;
    return cat;
}

// Written to a file of its own and renamed, so that a reader sees the old
// cache or the new one. Not written when a file changed within the last two
// seconds: a change in the same clock tick could leave its stat unchanged.
void write_cache(const fs::path& file, const signature& s, const catalog& cat) {
    struct timespec now {};
    clock_gettime(CLOCK_REALTIME, &now);
    if (s.newest_ns >= ns_of(now) - racy_ns || s.entries > most_entries) return;
    std::error_code ec;
    fs::create_directories(file.parent_path(), ec);
    auto tmp = file.string() + "." + std::to_string(getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << cache_text(s.text, cat);
        if (!out) {
            fs::remove(tmp, ec);
            return;
        }
    }
    fs::rename(tmp, file, ec);
    if (ec) fs::remove(tmp, ec);
}

}  // namespace

fs::path default_cache_dir() {
    auto var = [](const char* name) -> std::string {
        const char* v = std::getenv(name);
        return v ? v : "";
    };
    auto own = var("MOONSHIFT_CACHE_DIR");
    if (own == "off") return {};
    if (!own.empty()) return own;
    if (auto xdg = var("XDG_CACHE_HOME"); !xdg.empty()) return fs::path(xdg) / "moonshift";
    if (auto home = var("HOME"); !home.empty()) return fs::path(home) / ".cache" / "moonshift";
    return {};
}

catalog discover_summary(const fs::path& dir, const fs::path& root, const fs::path& rollbacks,
                         const fs::path& cache_dir) {
    auto strip = [](catalog cat) {
        for (auto* list : {&cat.migrations, &cat.repeatables, &cat.baselines})
            for (auto& m : *list) {
                m.up_sql.clear();
                m.down_sql.clear();
                m.verify_sql.clear();
                m.lua_source.clear();
                m.up_lua.clear();
                m.down_lua.clear();
                m.verify_lua.clear();
                m.precheck_lua.clear();
                m.backfill_lua.clear();
            }
        return cat;
    };
    if (cache_dir.empty()) return strip(discover(dir, root, rollbacks));
    std::error_code ec;
    auto abs_dir = fs::absolute(dir, ec), abs_root = fs::absolute(root, ec);
    auto abs_back = rollbacks.empty() ? fs::path() : fs::absolute(rollbacks, ec);
    auto s = sign(abs_dir, abs_root, abs_back);
    // Named by the folders' paths (std::hash: no hash library to load for it); the signature
    // itself is kept whole and compared byte for byte.
    char name[32];
    std::snprintf(name, sizeof name, "catalog-%016zx",
                  std::hash<std::string>{}(abs_dir.string() + "\n" + abs_root.string() + "\n" +
                                           abs_back.string()));
    auto file = cache_dir / name;
    if (auto cached = read_cache(file, s.text)) return std::move(*cached);
    auto cat = strip(discover(dir, root, rollbacks));
    write_cache(file, s, cat);
    return cat;
}

}  // namespace moonshift::catalog
