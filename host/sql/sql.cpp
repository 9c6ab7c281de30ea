// Splitting, parsing and classifying SQL with libpg_query. The parser and its
// scanner decide every boundary; this file only maps their answers to offsets
// in the file and to messages a person can act on.
#include "sql/sql.hpp"

#include <fmt/format.h>
#include <pg_query.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "common/text.hpp"

namespace moonshift::sql {
namespace {

using json = nlohmann::json;
constexpr auto npos = std::string_view::npos;
constexpr std::string_view byte_order_mark = "\xEF\xBB\xBF";

// libpg_query results own C memory; each is freed exactly once.
template <class Result, void (*Free)(Result)>
class owned {
  public:
    explicit owned(Result r) : r_(r) {}
    ~owned() { Free(r_); }
    owned(const owned&) = delete;
    owned& operator=(const owned&) = delete;
    const Result* operator->() const { return &r_; }

  private:
    Result r_;
};
using parse_result = owned<PgQueryParseResult, pg_query_free_parse_result>;
using split_result = owned<PgQuerySplitResult, pg_query_free_split_result>;
using scan_result = owned<PgQueryScanResult, pg_query_free_scan_result>;

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }
bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Byte offset of libpg_query's error cursor, a 1-based character position.
std::size_t cursor_offset(std::string_view text, int cursorpos) {
    return cursorpos > 0 ? text::char_to_byte_offset(text, std::size_t(cursorpos) - 1) : 0;
}

// Like text::position_of, but a byte-order mark takes no column, as in editors.
text::position position_in(std::string_view text, std::size_t offset) {
    auto p = text::position_of(text, offset);
    if (p.line == 1 && offset >= byte_order_mark.size() && text.substr(0, 3) == byte_order_mark)
        --p.column;
    return p;
}

// Line and column of increasing offsets in one pass, so a file with thousands
// of statements does not walk from the top for each.
class position_walker {
  public:
    explicit position_walker(std::string_view text) : text_(text) {
        if (text_.substr(0, 3) == byte_order_mark) at_ = byte_order_mark.size();
    }
    text::position at(std::size_t offset) {
        for (; at_ < offset && at_ < text_.size(); ++at_) {
            if (text_[at_] == '\n') {
                ++pos_.line;
                pos_.column = 1;
            } else if (!is_continuation(text_[at_])) {
                ++pos_.column;
            }
        }
        return pos_;
    }

  private:
    std::string_view text_;
    std::size_t at_ = 0;
    text::position pos_;
};

// libpg_query reads a C string. The copy blanks a byte-order mark (the
// scanner would take it for part of an identifier) without moving offsets.
std::string c_input(std::string_view sql, const std::string& file_label) {
    if (auto nul = sql.find('\0'); nul != npos)
        throw parse_error(sql, nul, file_label, "the file contains a NUL byte",
                          "SQL migrations must be text files.");
    std::string input(sql);
    if (sql.substr(0, 3) == byte_order_mark) input.replace(0, 3, "   ");
    return input;
}

// ---- scanner tokens ------------------------------------------------------

// Values of pg_query.proto's enum Token; single characters are their ASCII code.
constexpr int token_ident = 258;
constexpr int token_sql_comment = 275;
constexpr int token_c_comment = 276;

struct token {
    std::size_t start = 0;
    std::size_t end = 0;  // exclusive
    int kind = 0;
    int keyword_kind = 0;  // 0: not a keyword
};
bool is_comment(const token& t) { return t.kind == token_sql_comment || t.kind == token_c_comment; }
bool is_word(const token& t) { return t.kind == token_ident || t.keyword_kind != 0; }

bool read_varint(const std::uint8_t*& p, const std::uint8_t* end, std::uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 64 && p < end; shift += 7) {
        std::uint8_t byte = *p++;
        value |= std::uint64_t(byte & 0x7F) << shift;
        if ((byte & 0x80) == 0) return true;
    }
    return false;
}

bool skip_field(const std::uint8_t*& p, const std::uint8_t* end, unsigned wire_type) {
    std::uint64_t n = 0;
    switch (wire_type) {
        case 0:
            return read_varint(p, end, n);
        case 1:
            n = 8;
            break;
        case 2:
            if (!read_varint(p, end, n)) return false;
            break;
        case 5:
            n = 4;
            break;
        default:
            return false;
    }
    if (n > std::uint64_t(end - p)) return false;
    p += n;
    return true;
}

// All tokens of the input, comments included, from pg_query_scan. The
// protobuf (ScanResult: 2 = repeated ScanToken {1 start, 2 end, 4 token}) is
// decoded here because Debian ships libpg_query without protobuf-c headers.
// False when the scanner rejects the input, with the byte offset of the error.
bool scan(const std::string& input, std::vector<token>& tokens,
          std::size_t* error_offset = nullptr) {
    tokens.clear();
    scan_result r(pg_query_scan(input.c_str()));
    if (r->error) {
        if (error_offset != nullptr) *error_offset = cursor_offset(input, r->error->cursorpos);
        return false;
    }
    const auto* p = reinterpret_cast<const std::uint8_t*>(r->pbuf.data);
    const auto* end = p + r->pbuf.len;
    while (p < end) {
        std::uint64_t key = 0, length = 0;
        if (!read_varint(p, end, key)) return false;
        if (key != ((2 << 3) | 2)) {
            if (!skip_field(p, end, key & 7)) return false;
            continue;
        }
        if (!read_varint(p, end, length) || length > std::uint64_t(end - p)) return false;
        const auto* message_end = p + length;
        token t;
        while (p < message_end) {
            std::uint64_t field = 0, value = 0;
            if (!read_varint(p, message_end, field)) return false;
            if ((field & 7) != 0) {
                if (!skip_field(p, message_end, field & 7)) return false;
                continue;
            }
            if (!read_varint(p, message_end, value)) return false;
            switch (field >> 3) {
                case 1:
                    t.start = value;
                    break;
                case 2:
                    t.end = value;
                    break;
                case 4:
                    t.kind = int(value);
                    break;
                case 5:
                    t.keyword_kind = int(value);
                    break;
                default:
                    break;
            }
        }
        tokens.push_back(t);
    }
    return true;
}

// ---- statement boundaries -----------------------------------------------

struct range {
    std::size_t begin = 0;
    std::size_t end = 0;  // exclusive
};

range trim_space(range r, std::string_view input) {
    while (r.begin < r.end && is_space(input[r.begin])) ++r.begin;
    while (r.end > r.begin && is_space(input[r.end - 1])) --r.end;
    return r;
}

// Skips whitespace and comments from a point where the lexer is between
// tokens (the start of the input, or just after a statement's semicolon).
std::size_t skip_trivia(std::string_view text, std::size_t at) {
    while (at < text.size()) {
        if (is_space(text[at])) {
            ++at;
        } else if (text.compare(at, 2, "--") == 0) {
            auto newline = text.find('\n', at);
            at = newline == npos ? text.size() : newline + 1;
        } else if (text.compare(at, 2, "/*") == 0) {  // block comments nest in PostgreSQL
            int depth = 1;
            for (at += 2; at < text.size() && depth > 0;) {
                if (text.compare(at, 2, "/*") == 0)
                    ++depth, at += 2;
                else if (text.compare(at, 2, "*/") == 0)
                    --depth, at += 2;
                else
                    ++at;
            }
        } else {
            break;
        }
    }
    return std::min(at, text.size());
}

// The parser counts the whitespace and comments before a statement (and
// after the last one) as part of it. Leading ones are skipped directly. A
// trailing comment is possible only when the last line holds "--" or the text
// ends with "*/", and only then is the statement scanned, so that a large
// file is not lexed twice.
range narrow(range r, std::string_view input) {
    std::string_view text = input.substr(0, r.end);
    r.begin = skip_trivia(text, r.begin);
    r = trim_space(r, input);
    if (r.end - r.begin < 2) return r;
    auto newline = text.rfind('\n', r.end - 1);
    auto last_line = newline == npos || newline < r.begin ? r.begin : newline + 1;
    if (text.substr(last_line, r.end - last_line).find("--") == npos &&
        text.substr(r.end - 2, 2) != "*/")
        return r;
    std::vector<token> tokens;
    if (!scan(std::string(text.substr(r.begin, r.end - r.begin)), tokens)) return r;
    auto last =
        std::find_if(tokens.rbegin(), tokens.rend(), [](const token& t) { return !is_comment(t); });
    if (last != tokens.rend()) r.end = r.begin + last->end;
    return r;
}

statement make_statement(std::string_view sql, range r, position_walker& positions) {
    statement s;
    s.offset = r.begin;
    s.length = r.end - r.begin;
    s.text = std::string(sql.substr(r.begin, s.length));
    auto p = positions.at(r.begin);
    s.line = p.line;
    s.column = p.column;
    return s;
}

// Statement ranges from the parser's splitter; false when the SQL does not parse.
bool split_with_parser(const std::string& input, std::vector<range>& ranges) {
    ranges.clear();
    split_result r(pg_query_split_with_parser(input.c_str()));
    if (r->error) return false;  // stmts is not valid then, whatever n_stmts says
    for (int i = 0; i < r->n_stmts; ++i) {
        auto begin = std::size_t(r->stmts[i]->stmt_location);
        auto length = std::size_t(r->stmts[i]->stmt_len);
        ranges.push_back({begin, length == 0 ? input.size() : begin + length});
    }
    return true;
}

struct token_split {
    std::vector<range> ranges;  // already narrowed to their first and last token
    bool last_open = false;     // the last statement has no semicolon
};

// Statement ranges from scanner tokens for SQL that does not parse, the way
// psql splits a file: at semicolons outside parentheses and outside the
// BEGIN ... END body of CREATE [OR REPLACE] FUNCTION/PROCEDURE (the heuristic
// of psqlscan.l). libpg_query's own scanner splitter is not used because it
// silently drops statements that do not start with a keyword.
token_split split_tokens(const std::vector<token>& tokens, std::string_view input) {
    token_split out;
    std::size_t begin = npos, end = 0;
    int parens = 0, begins = 0, words = 0;
    std::string shape;  // first letters of the leading CREATE/OR/REPLACE/FUNCTION/PROCEDURE words
    for (const auto& t : tokens) {
        if (is_comment(t)) continue;
        if (t.kind == ';' && parens == 0 && begins == 0) {
            if (begin != npos) out.ranges.push_back({begin, end});
            begin = npos;
            parens = begins = words = 0;
            shape.clear();
            continue;
        }
        if (begin == npos) begin = t.start;
        end = t.end;
        if (t.kind == '(') {
            ++parens;
        } else if (t.kind == ')') {
            if (parens > 0) --parens;
        } else if (is_word(t)) {
            std::string word(input.substr(t.start, t.end - t.start));
            std::transform(word.begin(), word.end(), word.begin(),
                           [](unsigned char c) { return char(std::tolower(c)); });
            if (words < 4 && shape.size() == std::size_t(words) &&
                (word == "create" || word == "or" || word == "replace" || word == "function" ||
                 word == "procedure"))
                shape += word[0];
            ++words;
            bool routine = shape == "cf" || shape == "cp" || shape == "corf" || shape == "corp";
            if (routine && parens == 0) {
                if (word == "begin")
                    ++begins;
                else if (word == "case" && begins > 0)
                    ++begins;
                else if (word == "end" && begins > 0)
                    --begins;
            }
        }
    }
    if (begin != npos) {
        out.ranges.push_back({begin, end});
        out.last_open = true;
    }
    return out;
}

// ---- classification -----------------------------------------------------

bool flag(const json& node, const char* name) {
    auto it = node.find(name);
    return it != node.end() && it->is_boolean() && it->get<bool>();
}

const json* def_elem(const json& node, const char* list, const char* defname) {
    auto items = node.find(list);
    if (items == node.end() || !items->is_array()) return nullptr;
    for (const auto& item : *items) {
        auto d = item.find("DefElem");
        if (d != item.end() && d->value("defname", "") == defname) return &*d;
    }
    return nullptr;
}

// A DefElem's boolean value as PostgreSQL's defGetBoolean reads it.
bool def_bool(const json* d, bool absent) {
    if (d == nullptr) return absent;
    auto arg = d->find("arg");
    if (arg == d->end()) return true;  // WITH (create_slot)
    if (auto i = arg->find("Integer"); i != arg->end()) return i->value("ival", 0) != 0;
    if (auto b = arg->find("Boolean"); b != arg->end()) return b->value("boolval", false);
    std::string v;
    if (auto s = arg->find("String"); s != arg->end()) v = s->value("sval", "");
    if (auto t = arg->find("TypeName"); t != arg->end()) {  // create_slot = off
        const auto& names = t->value("names", json::array());
        if (!names.empty()) v = names.back().value("String", json::object()).value("sval", "");
    }
    if (!v.empty()) {
        std::transform(v.begin(), v.end(), v.begin(),
                       [](unsigned char c) { return char(std::tolower(c)); });
        return !(v == "false" || v == "off" || v == "0");
    }
    return true;
}

// Why PostgreSQL would refuse the statement inside a transaction block, or
// empty. These are the commands that call PreventInTransactionBlock.
std::string no_transaction_reason(const std::string& kind, const json& node) {
    auto refused = [](const char* what) {
        return fmt::format("{} cannot run inside a transaction block", what);
    };
    if (kind == "IndexStmt" && flag(node, "concurrent"))
        return refused("CREATE INDEX CONCURRENTLY");
    if (kind == "DropStmt" && flag(node, "concurrent")) return refused("DROP INDEX CONCURRENTLY");
    if (kind == "ReindexStmt") {
        if (def_elem(node, "params", "concurrently") != nullptr)
            return refused("REINDEX CONCURRENTLY");
        auto object = node.value("kind", "");
        if (object == "REINDEX_OBJECT_SCHEMA") return refused("REINDEX SCHEMA");
        if (object == "REINDEX_OBJECT_SYSTEM") return refused("REINDEX SYSTEM");
        if (object == "REINDEX_OBJECT_DATABASE") return refused("REINDEX DATABASE");
    }
    if (kind == "VacuumStmt" && flag(node, "is_vacuumcmd")) return refused("VACUUM");
    if (kind == "CreatedbStmt") return refused("CREATE DATABASE");
    if (kind == "DropdbStmt") return refused("DROP DATABASE");
    if (kind == "AlterDatabaseStmt" && def_elem(node, "options", "tablespace") != nullptr)
        return refused("ALTER DATABASE SET TABLESPACE");
    if (kind == "CreateTableSpaceStmt") return refused("CREATE TABLESPACE");
    if (kind == "DropTableSpaceStmt") return refused("DROP TABLESPACE");
    if (kind == "AlterSystemStmt") return refused("ALTER SYSTEM");
    if (kind == "CreateSubscriptionStmt") {
        bool connect = def_bool(def_elem(node, "options", "connect"), true);
        if (def_bool(def_elem(node, "options", "create_slot"), connect))
            return refused("CREATE SUBSCRIPTION ... WITH (create_slot = true)");
    }
    if (kind == "DropSubscriptionStmt")
        return refused("DROP SUBSCRIPTION") + " (when the subscription has a replication slot)";
    if (kind == "AlterTableStmt") {
        for (const auto& cmd : node.value("cmds", json::array())) {
            const auto& c = cmd.value("AlterTableCmd", json::object());
            if (c.value("subtype", "") == "AT_DetachPartition" &&
                flag(c.value("def", json::object()).value("PartitionCmd", json::object()),
                     "concurrent"))
                return refused("ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY");
        }
    }
    if (kind == "ClusterStmt" && !node.contains("relation"))
        return refused("CLUSTER without a table name");
    if (kind == "DiscardStmt" && node.value("target", "") == "DISCARD_ALL")
        return refused("DISCARD ALL");
    return {};
}

// Whether the tree must be read to tell if the statement refuses a
// transaction block (no_transaction_reason needs only the kind otherwise).
bool classification_needs_tree(const std::string& kind, std::string_view tree_json) {
    if (kind == "IndexStmt" || kind == "DropStmt" || kind == "AlterTableStmt")
        return tree_json.find("\"concurrent\":true") != npos;  // cheap filter; the tree decides
    return kind == "ReindexStmt" || kind == "VacuumStmt" || kind == "AlterDatabaseStmt" ||
           kind == "CreateSubscriptionStmt" || kind == "ClusterStmt" || kind == "DiscardStmt";
}

// ---- parser output -------------------------------------------------------

// One entry of pg_query_parse's {"version":N,"stmts":[{"stmt":{...},
// "stmt_location":N,"stmt_len":N}, ...]} with the tree still as JSON text.
// nlohmann::json takes about six times as long as the parser itself to build
// the trees of a large file, so they are built only when asked for.
struct raw_statement {
    std::string_view tree;
    std::size_t location = 0;
    std::size_t length = 0;  // 0: to the end of the input
};

// Walks the parser's own well-formed JSON without building it.
class json_walker {
  public:
    explicit json_walker(std::string_view text)
        : p_(text.data()), end_(text.data() + text.size()) {}
    void expect(char c) {
        space();
        if (p_ >= end_ || *p_ != c) fail();
        ++p_;
    }
    bool next_is(char c) {
        space();
        return p_ < end_ && *p_ == c;
    }
    std::string_view key() {  // pg_query's keys are plain field names
        expect('"');
        const char* begin = p_;
        while (p_ < end_ && *p_ != '"') ++p_;
        std::string_view k(begin, std::size_t(p_ - begin));
        expect('"');
        expect(':');
        return k;
    }
    std::size_t number() {
        space();
        if (p_ >= end_ || *p_ < '0' || *p_ > '9') fail();
        std::size_t v = 0;
        for (; p_ < end_ && *p_ >= '0' && *p_ <= '9'; ++p_) v = v * 10 + std::size_t(*p_ - '0');
        return v;
    }
    std::string_view value() {
        space();
        const char* begin = p_;
        skip();
        return {begin, std::size_t(p_ - begin)};
    }

    // The value as nlohmann::json, built directly: about four times faster
    // than json::parse, whose lexer dominates on these string-heavy trees.
    json build() {
        space();
        if (p_ >= end_) fail();
        switch (*p_) {
            case '{': {
                ++p_;
                json object = json::object();
                auto& fields = *object.get_ptr<json::object_t*>();
                while (!next_is('}')) {
                    std::string name = string();
                    expect(':');
                    fields.emplace(std::move(name), build());
                    if (!next_is('}')) expect(',');
                }
                ++p_;
                return object;
            }
            case '[': {
                ++p_;
                json array = json::array();
                auto& items = *array.get_ptr<json::array_t*>();
                while (!next_is(']')) {
                    items.push_back(build());
                    if (!next_is(']')) expect(',');
                }
                ++p_;
                return array;
            }
            case '"':
                return string();
            case 't':
                word("true");
                return true;
            case 'f':
                word("false");
                return false;
            case 'n':
                word("null");
                return nullptr;
            default:
                return number_value();
        }
    }

  private:
    void space() {
        while (p_ < end_ && is_space(*p_)) ++p_;
    }
    void word(std::string_view w) {
        if (std::string_view(p_, std::size_t(end_ - p_)).substr(0, w.size()) != w) fail();
        p_ += w.size();
    }
    json number_value() {
        const char* begin = p_;
        bool integer = true;
        for (; p_ < end_ &&
               (std::isdigit(static_cast<unsigned char>(*p_)) || std::strchr("+-.eE", *p_));
             ++p_)
            if (*p_ == '.' || *p_ == 'e' || *p_ == 'E') integer = false;
        if (begin == p_) fail();
        if (!integer)
            return json::parse(begin, p_);  // not emitted by libpg_query; kept exact anyway
        if (*begin == '-') {
            std::int64_t v = 0;
            if (std::from_chars(begin, p_, v).ec != std::errc()) fail();
            return v;
        }
        std::uint64_t v = 0;
        if (std::from_chars(begin, p_, v).ec != std::errc()) fail();
        return v;
    }
    std::string string() {
        expect('"');
        std::string out;
        const char* run = p_;
        for (; p_ < end_ && *p_ != '"'; ++p_) {
            if (*p_ != '\\') continue;
            out.append(run, p_);
            if (++p_ >= end_) fail();
            switch (*p_) {
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'u':
                    append_utf8(out, escaped_code_point());
                    break;
                default:
                    out += *p_;
                    break;  // \" \\ \/
            }
            run = p_ + 1;
        }
        out.append(run, p_);
        expect('"');
        return out;
    }
    unsigned hex4() {  // at the 'u' of \uXXXX; leaves p_ on the last digit
        if (end_ - p_ < 5) fail();
        unsigned v = 0;
        for (int i = 0; i < 4; ++i) {
            char c = *++p_;
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= unsigned(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= unsigned(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v |= unsigned(c - 'A' + 10);
            else
                fail();
        }
        return v;
    }
    unsigned escaped_code_point() {
        unsigned cp = hex4();
        if (cp >= 0xD800 && cp < 0xDC00 && end_ - p_ > 6 && p_[1] == '\\' && p_[2] == 'u') {
            p_ += 2;
            unsigned low = hex4();
            if (low < 0xDC00 || low > 0xDFFF) fail();
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        return cp;
    }
    static void append_utf8(std::string& out, unsigned cp) {
        if (cp < 0x80) {
            out += char(cp);
        } else if (cp < 0x800) {
            out += char(0xC0 | (cp >> 6));
            out += char(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += char(0xE0 | (cp >> 12));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        } else {
            out += char(0xF0 | (cp >> 18));
            out += char(0x80 | ((cp >> 12) & 0x3F));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        }
    }
    void skip() {
        if (p_ >= end_) fail();
        if (*p_ == '"') return skip_string();
        if (*p_ != '{' && *p_ != '[') {  // number, true, false, null
            while (p_ < end_ && *p_ != ',' && *p_ != '}' && *p_ != ']') ++p_;
            return;
        }
        int depth = 0;
        do {
            if (p_ >= end_) fail();
            if (*p_ == '"') {
                skip_string();
                continue;
            }
            if (*p_ == '{' || *p_ == '[') ++depth;
            if (*p_ == '}' || *p_ == ']') --depth;
            ++p_;
        } while (depth > 0);
    }
    void skip_string() {
        for (++p_; p_ < end_ && *p_ != '"'; ++p_)
            if (*p_ == '\\') ++p_;
        expect('"');
    }
    [[noreturn]] static void fail() {
        throw std::runtime_error("unexpected JSON from libpg_query");
    }

    const char* p_;
    const char* end_;
};

std::vector<raw_statement> raw_statements(std::string_view output) {
    std::vector<raw_statement> out;
    json_walker w(output);
    w.expect('{');
    while (!w.next_is('}')) {
        if (w.key() != "stmts") {
            w.value();
        } else {
            w.expect('[');
            while (!w.next_is(']')) {
                raw_statement raw;
                w.expect('{');
                while (!w.next_is('}')) {
                    auto field = w.key();
                    if (field == "stmt")
                        raw.tree = w.value();
                    else if (field == "stmt_location")
                        raw.location = w.number();
                    else if (field == "stmt_len")
                        raw.length = w.number();
                    else
                        w.value();
                    if (!w.next_is('}')) w.expect(',');
                }
                w.expect('}');
                out.push_back(raw);
                if (!w.next_is(']')) w.expect(',');
            }
            w.expect(']');
        }
        if (!w.next_is('}')) w.expect(',');
    }
    return out;
}

json build_tree(std::string_view tree_json) {
    json_walker w(tree_json);
    return w.build();
}

std::string first_key(std::string_view object_json) {
    json_walker w(object_json);
    w.expect('{');
    return std::string(w.key());
}

// ---- errors --------------------------------------------------------------

// Lexer errors quote the rest of the file ("unterminated quoted string at or
// near "'abc ..."); keep the first line and a few dozen characters of it.
std::string shorten_near(std::string message) {
    constexpr std::string_view near = "at or near \"";
    auto at = message.find(near);
    if (at == npos || message.back() != '"') return message;
    auto begin = at + near.size();
    auto cut = std::min(message.find('\n', begin), message.size() - 1);
    std::size_t chars = 0, i = begin;
    for (; i < cut; ++i)
        if (!is_continuation(message[i]) && ++chars > 40) break;
    if (i >= message.size() - 1) return message;
    return message.substr(0, i) + "...\"";
}

[[noreturn]] void throw_parse_error(std::string_view sql, const std::string& input,
                                    const PgQueryError& e, const std::string& file_label) {
    std::size_t offset = cursor_offset(input, e.cursorpos);
    if (offset >= input.size()) {  // "at end of input": point just past the last text
        offset = input.size();
        while (offset > 0 && is_space(input[offset - 1])) --offset;
    }
    // A backslash is never SQL outside a literal, so the parser stops right at
    // the first psql meta-command.
    if (offset < input.size() && input[offset] == '\\') {
        auto name_end = std::min(input.find_first_of(" \t\r\n", offset), offset + 24);
        throw parse_error(
            sql, offset, file_label,
            fmt::format("psql meta-command {} is not supported; moonshift runs SQL only",
                        input.substr(offset, name_end - offset)),
            "psql commands such as \\set, \\i and \\connect are not SQL; keep only the SQL.");
    }
    std::string hint;
    if (offset + 1 < input.size() && input[offset] == ':' &&
        (std::isalpha(static_cast<unsigned char>(input[offset + 1])) || input[offset + 1] == '_' ||
         input[offset + 1] == '\'' || input[offset + 1] == '"'))
        hint = "This looks like a psql variable (:name); moonshift runs SQL only.";
    throw parse_error(sql, offset, file_label, shorten_near(e.message ? e.message : "syntax error"),
                      hint);
}

}  // namespace

// ---- public ----------------------------------------------------------------

parse_error::parse_error(std::string_view text, std::size_t offset, const std::string& file_label,
                         std::string reason, std::string hint)
    : moonshift::error(exit_code::migration_failed,
                       format_located(text, offset, file_label, reason), std::move(hint)),
      offset_(std::min(offset, text.size())),
      reason_(std::move(reason)) {
    auto p = position_in(text, offset_);
    line_ = p.line;
    column_ = p.column;
}

const statement* script::first_transaction_control() const {
    for (const auto& s : statements)
        if (s.transaction_control) return &s;
    return nullptr;
}

const statement* script::first_no_transaction_statement() const {
    for (const auto& s : statements)
        if (s.no_transaction) return &s;
    return nullptr;
}

script parse(std::string_view sql, const std::string& file_label, const parse_options& options) {
    std::string input = c_input(sql, file_label);
    if (auto bad = text::invalid_utf8_at(sql); bad != npos)
        throw parse_error(sql, bad, file_label, "invalid UTF-8 byte sequence",
                          "Save the file as UTF-8.");

    parse_result result(pg_query_parse(input.c_str()));
    if (result->error) throw_parse_error(sql, input, *result->error, file_label);
    auto raws = raw_statements(result->parse_tree);

    script out;
    out.statements.reserve(raws.size());
    position_walker positions(sql);
    const json no_tree = json::object();
    for (const auto& raw : raws) {
        auto end = raw.length == 0 ? input.size() : raw.location + raw.length;
        statement s = make_statement(sql, narrow({raw.location, end}, input), positions);
        s.kind = first_key(raw.tree);
        json tree;
        if (options.trees || classification_needs_tree(s.kind, raw.tree))
            tree = build_tree(raw.tree);
        s.transaction_control = s.kind == "TransactionStmt";
        s.no_transaction_reason =
            no_transaction_reason(s.kind, tree.is_object() ? tree.at(s.kind) : no_tree);
        s.no_transaction = !s.no_transaction_reason.empty();
        if (options.trees) s.tree = std::move(tree);
        out.statements.push_back(std::move(s));
    }
    return out;
}

std::vector<statement> split(std::string_view sql) {
    std::string input = c_input(sql, "");
    std::vector<range> ranges;
    std::vector<token> tokens;
    std::size_t error_offset = 0;
    if (split_with_parser(input, ranges)) {
        for (auto& r : ranges) r = narrow(r, input);
    } else if (scan(input, tokens, &error_offset)) {
        ranges = split_tokens(tokens, input).ranges;
    } else {
        // The scanner stops at an unterminated literal: split what comes
        // before it; the statement holding it runs to the end of the file.
        scan(input.substr(0, error_offset), tokens);
        auto result = split_tokens(tokens, input);
        ranges = std::move(result.ranges);
        std::size_t end = trim_space({0, input.size()}, input).end;
        if (result.last_open)
            ranges.back().end = end;
        else
            ranges.push_back({error_offset, end});
    }

    std::vector<statement> out;
    out.reserve(ranges.size());
    position_walker positions(sql);
    for (const auto& r : ranges)
        if (r.begin < r.end) out.push_back(make_statement(sql, r, positions));
    return out;
}

std::string format_located(std::string_view text, std::size_t offset, const std::string& file_label,
                           const std::string& message) {
    offset = std::min(offset, text.size());
    while (offset > 0 && offset < text.size() && is_continuation(text[offset])) --offset;
    auto pos = position_in(text, offset);
    std::string out = file_label.empty()
                          ? fmt::format("{}:{}: {}", pos.line, pos.column, message)
                          : fmt::format("{}:{}:{}: {}", file_label, pos.line, pos.column, message);

    std::size_t line_begin = 0;
    if (offset > 0) {
        auto nl = text.rfind('\n', offset - 1);
        line_begin = nl == npos ? 0 : nl + 1;
    }
    if (line_begin == 0 && text.substr(0, 3) == byte_order_mark)
        line_begin = std::min(offset, std::size_t(3));
    std::size_t line_end = std::min(text.find('\n', offset), text.size());
    if (line_end > offset && text[line_end - 1] == '\r') --line_end;

    // Long lines (minified dumps) show a window around the caret.
    constexpr std::size_t window = 160, before = 60;
    std::size_t shown_begin = line_begin, shown_end = line_end;
    if (line_end - line_begin > window) {
        shown_begin = std::max(line_begin, offset > before ? offset - before : 0);
        while (shown_begin > line_begin && is_continuation(text[shown_begin])) --shown_begin;
        shown_end = std::min(line_end, shown_begin + window);
        while (shown_end < line_end && is_continuation(text[shown_end])) --shown_end;
    }
    std::string prefix = shown_begin > line_begin ? "..." : "";
    std::string pad(prefix.size(), ' ');
    for (std::size_t i = shown_begin; i < offset; ++i)
        if (!is_continuation(text[i])) pad += text[i] == '\t' ? '\t' : ' ';
    out += "\n  " + prefix + std::string(text.substr(shown_begin, shown_end - shown_begin)) +
           (shown_end < line_end ? "..." : "") + "\n  " + pad + "^";
    return out;
}

}  // namespace moonshift::sql
