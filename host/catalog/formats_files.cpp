// Readers for the layouts of one file (or an up/down pair) per migration:
// Supabase CLI, golang-migrate, up/down pairs (V0001.Name.up.sql), dbmate,
// Flyway and postgres-migrations. Each keeps its tool's own markers.
#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <regex>

#include "catalog/formats.hpp"
#include "common/error.hpp"
#include "common/text.hpp"

namespace moonshift::catalog {
namespace fs = std::filesystem;

namespace {

enum class role { up, down, single, baseline, repeatable };

struct named {
    std::string version, name;
    role r = role::up;
};

named parse_file_name(const format& f, const std::string& file, const std::string& label) {
    std::smatch m;
    if (f.repeatables && file.rfind(repeatable_prefix, 0) == 0) {
        auto skip = repeatable_prefix.size();
        return {"", file.substr(skip, file.size() - skip - 4), role::repeatable};  // R__x.sql
    }
    if (!f.files.re || !std::regex_match(file, m, *f.files.re))
        throw usage_error(
            label + ": the name does not fit " + f.name + "'s naming",
            "name it like " + f.example + ", or move it out of the migrations directory");
    if (f.parts == name_parts::flyway) {
        std::string version = m[2];
        std::replace(version.begin(), version.end(), '_', '.');  // V1_1 is 1.1
        char prefix = m[1].str()[0];
        return {version, m[3],
                prefix == 'V'   ? role::up
                : prefix == 'U' ? role::down
                                : role::baseline};
    }
    if (f.parts == name_parts::both_in_one)
        return {m[1], m[2].str().empty() ? m[1].str() : m[2].str(), role::single};
    if (m.size() > 3 && m[3].matched) {
        auto suffix = m[3].str();
        bool down = suffix == "down" || suffix == ".down";
        return {m[1], m[2], down ? role::down : role::up};
    }
    return {m[1], m[2], role::up};
}

// Everything outside [from, to) becomes spaces (newlines kept): a section of
// a dbmate file runs with its lines where they are in the file.
std::string keep_only(const std::string& text, std::size_t from, std::size_t to) {
    std::string out = text;
    for (std::size_t i = 0; i < out.size(); ++i)
        if ((i < from || i >= to) && out[i] != '\n') out[i] = ' ';
    return out;
}

// dbmate: `-- migrate:up [transaction:false]` then `-- migrate:down [...]`.
void split_dbmate(migration& m, const std::string& content) {
    std::size_t up_at = std::string::npos, down_at = std::string::npos, up_end = 0, down_end = 0;
    std::string up_opts, down_opts;
    for (const auto& x : dbmate_markers(content)) {
        if (x.up && up_at == std::string::npos) {
            up_at = x.at;
            up_end = x.end;
            up_opts = x.options;
        } else if (!x.up && down_at == std::string::npos) {
            down_at = x.at;
            down_end = x.end;
            down_opts = x.options;
        }
    }
    if (up_at == std::string::npos)
        throw usage_error(
            m.up_label + ": a dbmate migration needs a `-- migrate:up` line",
            "put -- migrate:up above its statements and -- migrate:down above the undo");
    auto up_stop = down_at != std::string::npos && down_at > up_at ? down_at : content.size();
    m.up_sql = keep_only(content, up_end, up_stop);
    if (up_opts.find("transaction:false") != std::string::npos) m.dir.no_transaction = true;
    if (down_at != std::string::npos) {
        auto down_stop = up_at > down_at ? up_at : content.size();
        m.down = m.up;
        m.down_label = m.up_label;
        m.down_sql = keep_only(content, down_end, down_stop);
        m.down_has_sql = true;  // dbmate runs an empty down section as a no-op
        if (down_opts.find("transaction:false") != std::string::npos)
            m.dir.down_own_transaction = true;
    }
}

// A Flyway script configuration beside the file: V1__x.sql.conf.
void read_flyway_conf(migration& m, const fs::path& sql_file) {
    auto conf = sql_file;
    conf += ".conf";
    if (!fs::exists(conf)) return;
    std::ifstream in(conf);
    std::string line;
    while (std::getline(in, line)) {
        auto t = text::trim(line);
        auto eq = t.find('=');
        if (eq == std::string::npos) continue;
        if (text::trim(t.substr(0, eq)) == "executeInTransaction" &&
            text::trim(t.substr(eq + 1)) == "false")
            m.dir.no_transaction = true;
    }
}

struct down_file {
    named n;
    fs::path path;
    std::string label;
};

// One up (or single, or baseline) file: its content, directives and the
// tool's markers.
migration read_up(const format& f, const named& n, const fs::path& path, const std::string& label) {
    migration m;
    m.version = n.version;
    m.name = n.name;
    m.kind = form::sql;
    m.up = path;
    m.up_label = label;
    std::string content = read_checked(path, label);
    m.dir = read_directives(content, label);
    m.up_sql = content;
    if (f.markers) f.markers(f, m, content);
    return m;
}

void attach_downs(const format& f, const std::vector<down_file>& downs,
                  std::map<std::string, migration>& ups) {
    for (auto& d : downs) {
        auto it = ups.find(version_key(d.n.version));
        if (it == ups.end())
            throw usage_error(d.label + ": a down script with no matching up migration",
                              "give it the version of the migration it undoes");
        auto& m = it->second;
        if (!m.down.empty())
            throw usage_error(d.label + ": version " + d.n.version +
                              " already has a down script, " + m.down_label);
        m.down = d.path;
        m.down_label = d.label;
        m.down_sql = read_checked(d.path, d.label);
        m.down_has_sql = has_sql(m.down_sql) || f.empty_down_is_no_op;
    }
}

}  // namespace

std::vector<dbmate_marker> dbmate_markers(std::string_view content) {
    std::vector<dbmate_marker> out;
    auto blank = [&](std::size_t p) { return content[p] == ' ' || content[p] == '\t'; };
    for (std::size_t line = 0; line < content.size();) {
        std::size_t eol = content.find('\n', line);
        if (eol == std::string_view::npos) eol = content.size();
        std::size_t p = line;
        while (p < eol && blank(p)) ++p;
        if (content.compare(p, 2, "--") == 0) {
            p += 2;
            while (p < eol && blank(p)) ++p;
            bool up = content.compare(p, 10, "migrate:up") == 0;
            std::size_t word = up ? 10 : content.compare(p, 12, "migrate:down") == 0 ? 12 : 0;
            // A word ends there (dbmate's `migrate:up\b`): `migrate:upgrade` is no marker.
            std::size_t after = p + word;
            if (word && p + word <= eol &&
                (after == eol || !(std::isalnum(static_cast<unsigned char>(content[after])) ||
                                   content[after] == '_')))
                out.push_back({line, eol, up, std::string(content.substr(after, eol - after))});
        }
        line = eol + 1;
    }
    return out;
}

bool has_dbmate_up(std::string_view content) {
    for (const auto& m : dbmate_markers(content))
        if (m.up) return true;
    return false;
}

void dbmate_sections(const format&, migration& m, const std::string& content) {
    split_dbmate(m, content);
    m.checksum = text::sha256_hex(content);  // one file holds both directions
}

void flyway_conf(const format&, migration& m, const std::string&) { read_flyway_conf(m, m.up); }

void postgres_migrations_comments(const format& f, migration& m, const std::string& content) {
    // The marker counts anywhere in the file, as in postgres-migrations.
    if (content.find(f.no_tx_marker) != std::string::npos) m.dir.no_transaction = true;
    // Supabase Storage's runner records such a file as applied but runs
    // `SELECT 1;` instead of it; so does moonshift (the checksum is still the
    // file's).
    if (content.find("-- postgres-migrations ignore") != std::string::npos) {
        m.checksum = text::sha256_hex(content);
        m.up_sql = "-- " + m.up_label +
                   " is marked `-- postgres-migrations ignore`: recorded, not run\nSELECT 1;\n";
    }
}

catalog read_flat(const format& f, const fs::path& dir, const fs::path& root) {
    catalog cat;
    cat.format = f.name;
    std::map<std::string, migration> ups;  // version_key → migration
    std::vector<down_file> downs;
    for (auto& e : sorted_entries(dir)) {
        std::string file = e.path().filename().string();
        if (file.empty() || file[0] == '.' || e.is_directory() || e.path().extension() != ".sql")
            continue;
        std::string label = rel_label(e.path(), root);
        auto n = parse_file_name(f, file, label);
        if (n.r == role::repeatable) {
            cat.repeatables.push_back(read_repeatable(e.path(), label));
            continue;
        }
        if (n.r == role::down) {
            downs.push_back({n, e.path(), label});
            continue;
        }
        migration m = read_up(f, n, e.path(), label);
        if (n.r == role::baseline) {
            m.checksum = text::sha256_hex(m.up_sql);
            classify_transactions(m, f);
            cat.baselines.push_back(std::move(m));
            continue;
        }
        auto key = version_key(m.version);
        if (auto it = ups.find(key); it != ups.end())
            throw usage_error(
                label + ": version " + m.version + " is also used by " + it->second.up_label,
                "give one of them a new version");
        ups.emplace(key, std::move(m));
    }
    attach_downs(f, downs, ups);
    for (auto& [key, m] : ups) {
        if (m.checksum.empty()) set_checksums(m);
        classify_transactions(m, f);
        cat.migrations.push_back(std::move(m));
    }
    for (auto& rep : cat.repeatables) {
        if (f.markers) f.markers(f, rep, rep.up_sql);
        classify_transactions(rep, f);
    }
    sort_and_check(cat, f.order);
    return cat;
}

}  // namespace moonshift::catalog
