// Parsing and classifying SQL with libpg_query. The parser and its scanner
// decide every boundary; the files beside this one map their answers to
// offsets in the file (boundaries, scanner, positions), read the parser's
// output (parser_output), tell which statements refuse a transaction block
// (no_transaction) and turn errors into messages a person can act on (located).
#include "sql/sql.hpp"

#include "common/text.hpp"
#include "sql/boundaries.hpp"
#include "sql/libpg_query.hpp"
#include "sql/located.hpp"
#include "sql/no_transaction.hpp"
#include "sql/parser_output.hpp"

namespace moonshift::sql {

using namespace detail;
using json = nlohmann::json;

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
    if (auto bad = text::invalid_utf8_at(sql); bad != std::string_view::npos)
        throw parse_error(sql, bad, file_label, "invalid UTF-8 byte sequence",
                          "Save the file as UTF-8.");

    parse_result result(pg_query().parse(input.c_str()));
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

}  // namespace moonshift::sql
