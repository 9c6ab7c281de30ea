// What every layout shares once its files are read: transaction needs found
// by the parser, checksums (moonshift's and the ones other tools record),
// repeatable migrations, and the version order.
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "catalog/formats.hpp"
#include "common/error.hpp"
#include "common/text.hpp"
#include "sql/sql.hpp"
#include "sql/transaction_wrap.hpp"

namespace moonshift::catalog {
namespace fs = std::filesystem;

namespace {

std::optional<sql::script> try_parse(const std::string& text, const std::string& label) {
    // Most files (and a data file of any size) have none of the words the
    // parse looks for: the parse is skipped, as its answer is known.
    if (sql::free_of_transaction_words(text)) return std::nullopt;
    try {
        return sql::parse(text, label, sql::parse_options{false});
    } catch (const error&) {
        return std::nullopt;  // the server reports it, located, when the file runs
    }
}

std::string where(const std::string& label, const sql::statement& st) {
    return label + ":" + std::to_string(st.line) + ":" + std::to_string(st.column);
}

// Replaces the statement (and the semicolon after it) with spaces, keeping
// newlines, so every other line and column stays where it was.
void blank(std::string& sql, const sql::statement& st) {
    std::size_t end = st.offset + st.length;
    std::size_t semi = end;
    while (semi < sql.size() && std::isspace(static_cast<unsigned char>(sql[semi]))) ++semi;
    if (semi < sql.size() && sql[semi] == ';') end = semi + 1;
    for (std::size_t i = st.offset; i < end && i < sql.size(); ++i)
        if (sql[i] != '\n') sql[i] = ' ';
}

std::string erase_line_with(const std::string& text, const std::string& needle) {
    auto at = text.find(needle);
    if (at == std::string::npos) return text;
    auto start = text.rfind('\n', at);
    start = start == std::string::npos ? 0 : start + 1;
    auto end = text.find('\n', at);
    end = end == std::string::npos ? text.size() : end + 1;
    return text.substr(0, start) + text.substr(end);
}

std::string token_after(const std::string& text, const std::string& key) {
    auto at = text.find(key);
    if (at == std::string::npos) return "";
    at += key.size();
    auto end = text.find_first_of(" \t", at);
    return text.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

// Where the format's marker goes, and what it is: most formats put it at the
// top of the migration's file; a marker written "X in F" (Diesel's
// `run_in_transaction = false in metadata.toml`) goes in the file F of the
// migration's folder.
std::string marker_hint(const migration& m, const std::string& marker, const std::string& effect) {
    auto in = marker.find(" in ");
    if (in == std::string::npos) return "add `" + marker + "` at the top of " + m.up_label + effect;
    auto folder = std::filesystem::path(m.up_label).parent_path();
    return "add `" + marker.substr(0, in) + "` to " + (folder / marker.substr(in + 4)).string() +
           effect;
}

}  // namespace

void classify_transactions(migration& m, const format& f) {
    const auto policy = f.no_tx;
    const auto& marker = f.no_tx_marker;
    if (m.kind != form::sql) return;
    if (auto s = try_parse(m.up_sql, m.up_label)) {
        if (s->has_transaction_control()) {
            m.dir.own_transaction = true;
        } else if (auto* st = s->first_no_transaction_statement(); st && !m.dir.no_transaction) {
            if (policy == no_tx_policy::run_outside) {
                m.dir.no_transaction = true;
            } else {
                throw usage_error(
                    where(m.up_label, *st) + ": " + st->no_transaction_reason +
                        ", and this file would run in a transaction",
                    marker_hint(m, marker,
                                ": moonshift then runs it statement by statement outside a "
                                "transaction"));
            }
        }
    }
    if (m.down.empty() || m.down_sql.empty()) return;
    if (auto s = try_parse(m.down_sql, m.down_label)) {
        if (s->has_transaction_control()) {
            m.dir.down_own_transaction = true;
        } else if (auto* st = s->first_no_transaction_statement();
                   st && !m.dir.down_own_transaction) {
            if (policy == no_tx_policy::run_outside || m.dir.no_transaction) {
                m.dir.down_own_transaction = true;
            } else {
                // Only rolling it back is refused: its tool would fail there too,
                // and nothing else needs the down script.
                m.dir.down_refused = where(m.down_label, *st) + ": " + st->no_transaction_reason +
                                     ", and this down script would run in a transaction";
                m.dir.down_refused_hint =
                    marker_hint(m, marker, ": it applies to the down script too");
            }
        }
    }
}

bool controls_transactions(const std::string& text, const std::string& label) {
    auto s = try_parse(text, label);
    return s && s->has_transaction_control();
}

bool unwrap_transaction(std::string& text, bool verify) {
    auto s = try_parse(text, "");
    if (!s) return false;
    auto w = sql::wrapping_transaction(*s);
    if (!w || (w->rolls_back && !verify)) return false;
    blank(text, *w->close);
    blank(text, *w->open);
    return true;
}

std::string checksum_of(const std::string& up_sql, const std::string& down_sql, bool has_down) {
    if (!has_down) return text::sha256_hex(up_sql);
    return text::sha256_hex("up " + text::sha256_hex(up_sql) + "\ndown " +
                            text::sha256_hex(down_sql) + "\n");
}

void set_checksums(migration& m) {
    m.checksum = native_checksum(m.up_sql, "", false, m.verify_sql);
    auto legacy = native_checksum(m.up_sql, m.down_sql, !m.down.empty(), m.verify_sql);
    m.legacy_checksum = legacy == m.checksum ? "" : legacy;
}

migration read_repeatable(const fs::path& p, const std::string& label) {
    migration m;
    auto stem = p.filename().string();
    m.name = stem.substr(3, stem.size() - 3 - 4);  // R__name.sql
    m.kind = form::sql;
    m.up = p;
    m.up_label = label;
    m.up_sql = read_checked(p, label);
    if (m.name.empty())
        throw usage_error(label + ": a repeatable migration needs a name after R__",
                          "R__views.sql");
    m.checksum = text::sha256_hex(m.up_sql);
    m.dir = read_directives(m.up_sql, label);
    return m;
}

std::string native_checksum(const std::string& up_sql, const std::string& down_sql, bool has_down,
                            const std::string& verify_sql) {
    auto sum = checksum_of(up_sql, down_sql, has_down);
    if (verify_sql.empty()) return sum;
    return text::sha256_hex(sum + "\nverify " + text::sha256_hex(verify_sql) + "\n");
}

void finish_native(catalog& cat) {
    const auto& own = own_format();
    // A file written by `moonshift convert` keeps the checksum its original
    // had, as long as nothing but the header was added: the history written
    // while the project used the other layout stays valid.
    auto keep_original = [](migration& m, const std::string& down, bool has_down,
                            const std::string& verify) {
        if (m.dir.converted_from.empty()) return;
        auto original = token_after(m.dir.converted_from, "checksum=");
        auto content = token_after(m.dir.converted_from, "content=");
        auto body = erase_line_with(m.up_sql, "moonshift:converted-from");
        if (!original.empty() && native_checksum(body, down, has_down, verify) == content) {
            m.checksum = original;
            m.legacy_checksum.clear();
        }
    };
    for (auto& m : cat.migrations) {
        if (m.kind != form::sql) continue;
        std::string verify_file = m.verify_sql;
        if (!m.verify_sql.empty()) {
            set_checksums(m);
            unwrap_transaction(m.verify_sql, true);
            if (!has_sql(m.verify_sql)) m.verify_sql.clear();
        }
        classify_transactions(m, own);
        keep_original(m, m.down_sql, !m.down.empty(), verify_file);
    }
    for (auto& r : cat.repeatables) {
        classify_transactions(r, own);
        keep_original(r, "", false, "");
    }
    std::sort(cat.repeatables.begin(), cat.repeatables.end(),
              [](const migration& a, const migration& b) { return a.name < b.name; });
}

void sort_and_check(catalog& cat, version_order order) {
    auto by_version = [order](const migration& a, const migration& b) {
        return version_before(order, a.version, b.version);
    };
    for (auto* list : {&cat.migrations, &cat.baselines}) {
        std::stable_sort(list->begin(), list->end(), by_version);
        for (std::size_t i = 1; i < list->size(); ++i) {
            const auto& a = (*list)[i - 1];
            const auto& b = (*list)[i];
            if (!version_before(order, a.version, b.version))  // sorted: not before is equal
                throw usage_error(
                    b.up_label + ": version " + b.version + " is also used by " + a.up_label,
                    "give one of them a new version");
        }
    }
    std::sort(cat.repeatables.begin(), cat.repeatables.end(),
              [](const migration& a, const migration& b) { return a.name < b.name; });
    for (std::size_t i = 1; i < cat.repeatables.size(); ++i)
        if (cat.repeatables[i].name == cat.repeatables[i - 1].name)
            throw usage_error(cat.repeatables[i].up_label + ": the repeatable migration \"" +
                              cat.repeatables[i].name + "\" is also " +
                              cat.repeatables[i - 1].up_label);
}

int flyway_checksum(const std::string& content) {
    static const auto table = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    std::uint32_t crc = 0xFFFFFFFFu;
    std::size_t start = content.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
    for (std::size_t i = start; i < content.size(); ++i) {
        char c = content[i];
        if (c == '\n' || c == '\r') continue;  // Flyway reads line by line, without the breaks
        crc = table[(crc ^ static_cast<unsigned char>(c)) & 0xFF] ^ (crc >> 8);
    }
    return static_cast<int>(crc ^ 0xFFFFFFFFu);
}

std::string sha1_hex(const std::string& bytes) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(bytes.data(), bytes.size(), out, &len, EVP_sha1(), nullptr);
    static const char* hex = "0123456789abcdef";
    std::string s;
    for (unsigned int i = 0; i < len; ++i) {
        s.push_back(hex[out[i] >> 4]);
        s.push_back(hex[out[i] & 0xF]);
    }
    return s;
}

}  // namespace moonshift::catalog
