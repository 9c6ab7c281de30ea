// Which layout a migrations directory holds, read from the format table
// (format_table.hpp). Every file votes for the tools whose naming it fits;
// files that only one tool writes decide, and two deciding votes for
// different tools are an error naming one file of each.
#include "catalog/formats.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include "common/error.hpp"
#include "common/text.hpp"

namespace moonshift::catalog {
namespace fs = std::filesystem;

namespace {

// listing_scope's listings on this thread, by directory; empty outside one.
thread_local std::optional<std::map<std::string, std::vector<fs::directory_entry>>> listings;

// A format whose `content` pattern is in the file; remembers what it read
// for the reader.
const format* content_vote(const fs::path& p) {
    std::string read;
    const std::string* content = read_ahead_of(p);
    if (!content) {
        try {
            read = text::read_file(p);
        } catch (const std::exception&) {
            return nullptr;  // the reader reports unreadable files
        }
        content = &read;
    }
    const format* found = nullptr;
    for (const auto& f : formats())
        if (!found && f.content && f.content(*content)) found = &f;
    if (content == &read) remember_content(p, std::move(read));
    return found;
}

// The format a directory entry votes for: nullptr when it does not take part
// (README.md, .conf files, R__ repeatables that two formats share, names no
// tool would read — the chosen reader reports those). `folder_owner`: the
// format that claims the numbered folders of this directory, if one does.
const format* vote(const fs::directory_entry& e, const format* folder_owner) {
    std::string file = e.path().filename().string();
    if (file.empty() || file[0] == '.') return nullptr;
    if (e.is_directory()) {
        for (const auto& f : formats())
            if (f.folders.matches(file)) return folder_owner ? folder_owner : &f;
        return nullptr;
    }
    auto ext = e.path().extension().string();
    if (ext == ".lua") {
        for (const auto& f : formats())
            if (f.lua_forms) return &f;
        return nullptr;
    }
    if (ext != ".sql" || file.rfind(repeatable_prefix, 0) == 0) return nullptr;
    for (const auto& f : formats()) {
        if (!f.votes || !f.files.matches(file)) continue;
        if (!f.own) return &f;
        auto* refined = content_vote(e.path());
        return refined ? refined : &f;
    }
    return nullptr;
}

// True when the path ends with the components of `home` ("supabase/migrations").
bool ends_with(const fs::path& dir, const std::string& home) {
    auto norm = dir.lexically_normal();
    if (norm.filename().empty()) norm = norm.parent_path();
    fs::path h(home);
    std::vector<fs::path> want(h.begin(), h.end());
    for (auto it = want.rbegin(); it != want.rend(); ++it) {
        if (norm.filename() != *it) return false;
        norm = norm.parent_path();
    }
    return true;
}

// Where the other tools keep their files by default, tried when the
// configured directory is moonshift's default and does not exist.
std::optional<fs::path> default_place(fs::path dir, const fs::path& root) {
    if (dir.filename().empty()) dir = dir.parent_path();  // "root/./" → "root"
    if (fs::is_directory(dir)) return dir;
    if (dir.lexically_normal() != (root / "migrations").lexically_normal()) return std::nullopt;
    for (const auto& f : formats())
        if (!f.home.empty() && fs::is_directory(root / f.home)) return root / f.home;
    for (const auto& f : formats())
        if (!f.marker_file.empty() && fs::exists(root / f.marker_file)) return root;
    return std::nullopt;
}

// The marker file in `place` that decides its format ("sqitch.plan"), or "".
std::string marker_in(const fs::path& place) {
    for (const auto& f : formats())
        if (!f.marker_file.empty() && fs::exists(place / f.marker_file)) return f.marker_file;
    return "";
}

[[noreturn]] void mixed(const std::map<std::string, std::string>& first, const fs::path& dir,
                        const fs::path& root) {
    auto a = first.begin(), b = std::next(first.begin());
    auto describe = [](const std::string& f) { return format_named(f).described; };
    throw usage_error(
        "two migration formats are mixed in " + rel_label(dir, root) + ": " + a->second + " is " +
            describe(a->first) + ", " + b->second + " is " + describe(b->first),
        "keep one format per directory; `moonshift convert --to native OUTDIR` rewrites a "
        "directory into moonshift's layout");
}

const format& decide(const fs::path& dir, const fs::path& root) {
    for (const auto& f : formats())
        if (!f.marker_file.empty() && fs::exists(dir / f.marker_file)) return f;
    const format* folder_owner = nullptr;
    for (const auto& f : formats())
        if (!folder_owner && f.claims_folders && f.claims_folders(dir, root)) folder_owner = &f;
    std::map<std::string, std::string> first;  // format → first file that voted for it
    const auto entries = sorted_entries(dir);
    if (listings) read_all_ahead(entries);  // within one discover(): the reader takes them
    for (auto& e : entries) {
        auto* f = vote(e, folder_owner);
        if (f && !first.count(f->name)) first[f->name] = rel_label(e.path(), root);
    }
    const auto& own = own_format();
    // moonshift's own layout also reads golang-migrate's .up.sql/.down.sql.
    if (first.count(own.name))
        for (const auto& f : formats())
            if (f.own_reads_it) first.erase(f.name);
    if (first.size() > 1) mixed(first, dir, root);
    if (!first.empty() && first.begin()->first != own.name)
        return format_named(first.begin()->first);
    for (const auto& f : formats())
        if (f.home_decides && ends_with(dir, f.home)) return f;
    return own;
}

}  // namespace

namespace {

std::string lower(std::string s) {
    for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// A name that looks like a migration must be one moonshift can read: a
// regular file (or a folder) with a lower-case .sql or .lua, so that nothing
// is skipped in silence and nothing hangs (a FIFO) or loops (a symlink loop).
void check_entry(const fs::directory_entry& e) {
    const auto name = name_of(e);
    if (name.empty() || name[0] == '.') return;
    const auto dot = name.rfind('.');
    if (dot == std::string_view::npos || dot == 0) return;
    const std::string ext(name.substr(dot));
    auto ext_lower = lower(ext);
    if (ext_lower != ".sql" && ext_lower != ".lua") return;
    if (ext != ext_lower)
        throw usage_error(e.path().string() + ": moonshift reads only lower-case ." +
                              ext_lower.substr(1) + " files, so this one would be skipped",
                          "rename it to " + e.path().stem().string() + ext_lower);
    // The entry's type as the directory listing gave it: no stat, but for a
    // symbolic link (followed, as fs::status would).
    std::error_code ec;
    const bool regular = e.is_regular_file(ec);
    const bool folder = !ec && !regular && e.is_directory(ec);
    if (ec)
        throw usage_error(e.path().string() + ": cannot read it: " + ec.message(),
                          "fix or remove it (a broken symbolic link, or one that loops?)");
    if (!regular && !folder)
        throw usage_error(e.path().string() + ": not a regular file (a pipe, socket or device)",
                          "remove it from the migrations directory");
}

std::vector<fs::directory_entry> list_sorted(const fs::path& dir) {
    std::vector<fs::directory_entry> entries;
    try {
        for (auto& e : fs::directory_iterator(dir)) {
            check_entry(e);
            entries.push_back(e);
        }
    } catch (const fs::filesystem_error& e) {
        throw usage_error(dir.string() + ": cannot read the directory: " + e.code().message(),
                          "check that it exists and that this user may read it");
    }
    // By file name, each name taken once (a path's filename() per comparison
    // cost more than the listing).
    std::vector<std::pair<std::string, std::size_t>> names;
    names.reserve(entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i) names.emplace_back(name_of(entries[i]), i);
    std::sort(names.begin(), names.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<fs::directory_entry> sorted;
    sorted.reserve(entries.size());
    for (auto& [name, i] : names) sorted.push_back(std::move(entries[i]));
    return sorted;
}

}  // namespace

std::string_view name_of(const fs::directory_entry& e) {
    std::string_view full = e.path().native();
    auto slash = full.rfind('/');
    return slash == std::string_view::npos ? full : full.substr(slash + 1);
}

listing_scope::listing_scope() : outermost_(!listings) {
    if (outermost_) listings.emplace();
}

listing_scope::~listing_scope() {
    if (!outermost_) return;
    listings.reset();
    forget_read_ahead();
}

std::vector<fs::directory_entry> sorted_entries(const fs::path& dir) {
    if (!listings) return list_sorted(dir);
    auto key = dir.lexically_normal().string();
    auto it = listings->find(key);
    if (it == listings->end()) it = listings->emplace(std::move(key), list_sorted(dir)).first;
    return it->second;
}

std::optional<fs::path> place_of(const fs::path& dir, const fs::path& root) {
    return default_place(dir.lexically_normal(), root);
}

std::string describe_place(const fs::path& dir, const fs::path& root) {
    auto place = default_place(dir.lexically_normal(), root).value_or(dir);
    auto marker = marker_in(place);
    if (place.lexically_normal() == root.lexically_normal() ||
        place.lexically_normal() == (root / "").lexically_normal())
        return !marker.empty() ? marker : ".";
    auto label = rel_label(place, root);
    return !marker.empty() ? label + "/" + marker : label;
}

std::string detect_format(const fs::path& dir, const fs::path& root) {
    auto place = default_place(dir.lexically_normal(), root);
    if (!place) return own_format().name;
    return decide(*place, root).name;
}

std::optional<catalog> discover_foreign(const fs::path& dir, const fs::path& root) {
    auto place = default_place(dir.lexically_normal(), root);
    if (!place) return std::nullopt;  // the native reader says the directory is missing
    const auto& f = decide(*place, root);
    if (!f.read) return std::nullopt;
    catalog cat = f.read(f, *place, root);
    cat.format = f.name;
    if (!f.seed_file.empty() && fs::exists(place->parent_path() / f.seed_file))
        cat.notes.push_back(
            rel_label(place->parent_path() / f.seed_file, root) +
            " is seed data, not a migration: `moonshift seed` loads it, `up` does not");
    return cat;
}

}  // namespace moonshift::catalog
