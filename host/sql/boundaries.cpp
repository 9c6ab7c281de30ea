// Statement boundaries, from the parser when the SQL parses and from the
// scanner's tokens (as psql splits) when it does not; and sql::split.
#include "sql/boundaries.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "sql/libpg_query.hpp"
#include "sql/scanner.hpp"

namespace moonshift::sql {
namespace detail {
namespace {

constexpr auto npos = std::string_view::npos;

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

}  // namespace

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

namespace {

// Statement ranges from the parser's splitter; false when the SQL does not parse.
bool split_with_parser(const std::string& input, std::vector<range>& ranges) {
    ranges.clear();
    split_result r(pg_query().split_with_parser(input.c_str()));
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

}  // namespace
}  // namespace detail

std::vector<statement> split(std::string_view sql) {
    using namespace detail;
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

}  // namespace moonshift::sql
