// `moonshift convert --to native`: another tool's directory rewritten into
// moonshift's layout, versions unchanged. Each file starts with a header
// naming its original and its checksum, so history recorded before the
// switch still matches (finish_native in formats_sql.cpp).
#include <fstream>
#include <regex>

#include "catalog/formats.hpp"
#include "common/error.hpp"
#include "common/text.hpp"

namespace moonshift::catalog {
namespace fs = std::filesystem;

namespace {

// Lines without trailing blanks, and no blank lines at either end: what is
// left of a dbmate section or a Sqitch script once its markers are gone.
std::string tidy(const std::string& sql) {
    std::string out;
    std::size_t pos = 0;
    while (pos <= sql.size()) {
        auto nl = sql.find('\n', pos);
        std::string line = sql.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        line.erase(line.find_last_not_of(" \t") + 1);
        out += line + "\n";
        if (nl == std::string::npos) break;
        pos = nl + 1;
    }
    auto first = out.find_first_not_of('\n');
    if (first == std::string::npos) return "";
    out = out.substr(first);
    out.erase(out.find_last_not_of('\n') + 1);
    return out + "\n";
}

std::string safe_name(const std::string& name) {
    std::string out;
    for (char c : name)
        out.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ? c
                                                                                          : '_');
    return out.empty() ? "migration" : out;
}

void write(const fs::path& p, const std::string& content, convert_result& r, const fs::path& root) {
    std::ofstream out(p, std::ios::binary);
    out << content;
    if (!out) throw usage_error("cannot write " + p.string());
    r.written.push_back(rel_label(p, root));
}

}  // namespace

convert_result convert_to_native(const catalog& cat, const fs::path& outdir, const fs::path& root) {
    const auto& from = format_named(cat.format);
    if (from.own)
        throw usage_error("the migrations are already in moonshift's own layout",
                          "nothing to convert");
    if (fs::exists(outdir) && !fs::is_empty(outdir))
        throw usage_error(rel_label(outdir, root) + " is not empty",
                          "convert into a new directory");
    fs::create_directories(outdir);
    convert_result r;
    auto body_of = [&](const std::string& sql) { return from.blanks_markers ? tidy(sql) : sql; };

    for (const auto& m : cat.migrations) {
        if (m.kind != form::sql) {
            r.notes.push_back(m.up_label + ": a " + std::string(form_name(m.kind)) +
                              " migration, left out");
            continue;
        }
        std::string base = m.version + "_" + safe_name(m.name);
        std::string body = body_of(m.up_sql);
        if (!has_sql(body)) body += "SELECT 1;  -- the original is empty\n";
        std::string down = m.down.empty() ? "" : body_of(m.down_sql);
        std::string verify = m.verify_sql.empty() ? "" : body_of(m.verify_sql);
        std::string sources = m.up_label;
        if (!m.down.empty() && m.down_label != m.up_label) sources += ", " + m.down_label;
        if (!m.verify_label.empty()) sources += ", " + m.verify_label;
        std::string header = "-- Converted by `moonshift convert --to native` from " + cat.format +
                             " " + sources + ".\n";
        if (m.dir.no_transaction && !m.dir.own_transaction &&
            body.find("moonshift:no-transaction") == std::string::npos)
            header += "-- moonshift:no-transaction\n";
        if (m.dir.down_own_transaction && !m.dir.no_transaction)
            r.notes.push_back(
                m.up_label +
                ": its down script ran outside a transaction; moonshift's layout runs it "
                "in one unless the migration is marked no-transaction");
        auto content = native_checksum(header + body, down, !m.down.empty(), verify);
        std::string directive = "-- moonshift:converted-from " + cat.format + ":" + m.up_label +
                                " checksum=" + m.checksum + " content=" + content + "\n";
        write(outdir / (base + ".sql"), header + directive + body, r, root);
        if (!m.down.empty()) write(outdir / (base + ".down.sql"), down, r, root);
        if (!verify.empty()) write(outdir / (base + ".verify.sql"), verify, r, root);
    }
    for (const auto& rep : cat.repeatables) {
        std::string header = "-- Converted by `moonshift convert --to native` from " + cat.format +
                             " " + rep.up_label + ".\n";
        if (rep.dir.no_transaction && !rep.dir.own_transaction)
            header += "-- moonshift:no-transaction\n";
        auto content = native_checksum(header + rep.up_sql, "", false, "");
        std::string directive = "-- moonshift:converted-from " + cat.format + ":" + rep.up_label +
                                " checksum=" + rep.checksum + " content=" + content + "\n";
        write(outdir / ("R__" + safe_name(rep.name) + ".sql"), header + directive + rep.up_sql, r,
              root);
    }
    for (const auto& b : cat.baselines)
        r.notes.push_back(b.up_label +
                          ": a baseline migration has no native form and is left out; "
                          "on a new database the versions it covers run one by one");
    for (const auto& n : cat.notes) r.notes.push_back(n);
    return r;
}

}  // namespace moonshift::catalog
