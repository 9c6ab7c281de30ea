// The linter: statements in, findings out. Parsing happens before (one
// parse per file, shared with the rest of the gate); the rules are Lua
// (lint_rules.cpp loads and calls them); the catalog facts they may use are
// fetched here in one query, and only when a rule that asked for them will run.
#include "lint/lint.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "common/text.hpp"
#include "lint/rules.hpp"
#include "sql/facts.hpp"

namespace moonshift::lint {
namespace {

using json = nlohmann::json;

// Line starts of a file, so that many findings in a large file each find
// their line by binary search instead of walking from the top.
class line_index {
  public:
    explicit line_index(std::string_view text) : text_(text) {
        starts_.push_back(0);
        for (std::size_t i = 0; i < text.size(); ++i)
            if (text[i] == '\n') starts_.push_back(i + 1);
    }
    text::position at(std::size_t offset) const {
        offset = std::min(offset, text_.size());
        auto it = std::upper_bound(starts_.begin(), starts_.end(), offset);
        std::size_t line = std::size_t(it - starts_.begin());
        std::size_t begin = starts_[line - 1];
        int column = 1;
        for (std::size_t i = begin; i < offset; ++i)
            if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) ++column;
        return {int(line), column};
    }

  private:
    std::string_view text_;
    std::vector<std::size_t> starts_;
};

std::string quote_ident(const std::string& s) {
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

std::string pg_text_array(const std::vector<std::string>& items) {
    std::string out = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
        out += i ? ",\"" : "\"";
        for (char c : items[i]) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        out += '"';
    }
    return out + "}";
}

// The end of the line that holds offset (the newline's position, or the end).
std::size_t line_end(std::string_view text, std::size_t offset) {
    auto nl = text.find('\n', offset);
    return nl == std::string_view::npos ? text.size() : nl;
}

}  // namespace

std::string format(const finding& f) {
    return fmt::format("{}:{}:{}: {} {}: {}{}", f.file, f.line, f.column, f.severity, f.rule,
                       f.message, f.suppressed ? " (allowed: " + f.reason + ")" : "");
}

json to_json(const finding& f) {
    json j = {{"file", f.file},
              {"line", f.line},
              {"column", f.column},
              {"rule", f.rule},
              {"severity", f.severity},
              {"message", f.message},
              {"suppressed", f.suppressed}};
    if (!f.hint.empty()) j["hint"] = f.hint;
    if (!f.rule_file.empty()) j["rule_file"] = f.rule_file;
    if (f.suppressed) j["reason"] = f.reason;
    return j;
}

json table_info::to_json() const {
    json j = {{"known", known}, {"exists", exists}, {"created", created}};
    if (known) {
        j["bytes"] = bytes;
        j["rows"] = rows;
        j["rls"] = rls;
        j["kind"] = kind;
        j["qualified"] = qualified;
    }
    return j;
}

json result::to_json() const {
    json all = json::array();
    for (const auto& f : findings) all.push_back(lint::to_json(f));
    return {
        {"findings", all}, {"errors", errors}, {"warnings", warnings}, {"suppressed", suppressed}};
}

std::vector<allowance> allowances_of(std::string_view text, const sql::script& script,
                                     std::size_t i) {
    const auto& st = script.statements[i];
    std::size_t begin = 0;
    if (i > 0) {
        const auto& prev = script.statements[i - 1];
        std::size_t prev_end = prev.offset + prev.length;
        // A comment on the previous statement's last line is the previous
        // statement's; ours start on the next line.
        begin = std::min(line_end(text, prev_end) + 1, st.offset);
        if (begin > st.offset) begin = prev_end;
    }
    std::size_t end = st.offset + st.length;
    if (i + 1 < script.statements.size()) {
        auto next = script.statements[i + 1].offset;
        end = std::min(line_end(text, end), next);
    } else {
        end = line_end(text, end);
    }
    std::vector<allowance> out;
    constexpr std::string_view tag = "moonshift:allow";
    for (auto at = text.find(tag, begin); at != std::string_view::npos && at < end;
         at = text.find(tag, at + 1)) {
        // Only in a line comment: "--" earlier on the same line.
        auto line_begin = text.rfind('\n', at);
        line_begin = line_begin == std::string_view::npos ? 0 : line_begin + 1;
        auto dashes = text.substr(line_begin, at - line_begin).find("--");
        if (dashes == std::string_view::npos) continue;
        std::string rest =
            text::trim(text.substr(at + tag.size(), line_end(text, at) - at - tag.size()));
        allowance a;
        a.offset = at;
        std::string names = rest.substr(0, rest.find_first_of(" \t"));
        a.reason = text::trim(rest.substr(names.size()));
        std::string item;
        for (char c : names + ",") {
            if (c == ',') {
                if (!item.empty()) a.rules.push_back(item);
                item.clear();
            } else {
                item += c;
            }
        }
        out.push_back(std::move(a));
    }
    return out;
}

std::vector<finding> transaction_findings(const file& f) {
    std::vector<finding> out;
    line_index lines(f.text);
    for (const auto& st : f.script->statements) {
        // BEGIN/COMMIT of the file's own is allowed: such a file runs as it
        // is, outside moonshift's transaction (catalog: own_transaction).
        if (!st.no_transaction || f.no_transaction || f.script->has_transaction_control()) continue;
        std::string message = st.no_transaction_reason + ", and this migration runs in one";
        std::string hint =
            "put -- moonshift:no-transaction at the top of the file: its statements then run one "
            "by one, "
            "each recorded, and a failed run resumes at the failed statement";
        finding x;
        x.rule = "transaction";
        x.severity = "error";
        x.file = f.label;
        x.offset = st.offset;
        auto p = lines.at(st.offset);
        x.line = p.line;
        x.column = p.column;
        x.message = message;
        x.hint = hint;
        out.push_back(std::move(x));
    }
    return out;
}

// ---- linter -------------------------------------------------------------------

struct linter::impl {
    const project::config& cfg;
    db::session* session;
    rule_set rules;

    impl(const project::config& c, db::session* s, lua::runtime* rt)
        : cfg(c), session(s), rules(c, rt, s) {}

    // Catalog facts of every table the statements name, in one query; only
    // when a rule that reads the catalog is going to run.
    json fetch_catalog(const std::vector<std::string>& names, long long& queries) {
        std::vector<std::string> regnames;
        for (const auto& n : names) {
            auto dot = n.find('.');
            regnames.push_back(dot == std::string::npos ? quote_ident(n)
                                                        : quote_ident(n.substr(0, dot)) + "." +
                                                              quote_ident(n.substr(dot + 1)));
        }
        pqxx::nontransaction tx(session->conn());
        ++queries;
        auto r = tx.exec_params(
            "SELECT jsonb_build_object("
            " 'supabase', (SELECT count(*) FROM pg_roles WHERE rolname IN ('anon', "
            "'authenticated')) = 2"
            "   AND to_regnamespace('auth') IS NOT NULL,"
            " 'tables', (SELECT coalesce(jsonb_object_agg(q.name, jsonb_build_object("
            "   'exists', c.oid IS NOT NULL, 'bytes', coalesce(pg_total_relation_size(c.oid), 0),"
            "   'rows', coalesce(c.reltuples, -1)::bigint, 'rls', coalesce(c.relrowsecurity, "
            "false),"
            "   'kind', CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' "
            "WHEN 'v' THEN 'view'"
            "                WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table' WHEN "
            "'i' THEN 'index'"
            "                WHEN 'S' THEN 'sequence' ELSE '' END,"
            "   'qualified', coalesce(n.nspname || '.' || c.relname, ''),"
            "   'columns', coalesce((SELECT jsonb_object_agg(a.attname, format_type(a.atttypid, "
            "a.atttypmod))"
            "                         FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0"
            "                          AND NOT a.attisdropped), '{}'))), '{}')"
            "   FROM unnest($1::text[], $2::text[]) AS q(name, regname)"
            "   LEFT JOIN pg_class c ON c.oid = to_regclass(q.regname)"
            "   LEFT JOIN pg_namespace n ON n.oid = c.relnamespace))::text",
            pg_text_array(names), pg_text_array(regnames));
        return json::parse(r[0][0].c_str());
    }
};

linter::linter(const project::config& cfg, db::session* session, lua::runtime* runtime)
    : impl_(std::make_unique<impl>(cfg, session, runtime)) {}

linter::~linter() = default;

const std::vector<rule_info>& linter::rules() const { return impl_->rules.infos(); }

result linter::run(const std::vector<file>& files) {
    auto& rules = impl_->rules;
    const auto& lint_cfg = impl_->cfg.lint;
    result out;

    // Pass 1: facts of every statement, and which ones a catalog rule reads.
    struct item {
        const file* f;
        std::size_t index;
        sql::facts facts;
        std::vector<std::size_t> rules;  // indexes of the rules that check it
    };
    std::vector<item> items;
    std::set<std::string> catalog_names;
    for (const auto& f : files) {
        for (std::size_t i = 0; i < f.script->statements.size(); ++i) {
            const auto& st = f.script->statements[i];
            item it{&f, i, {}, rules.for_kind(st.kind)};
            bool creates = st.kind == "CreateStmt" || st.kind == "CreateTableAsStmt";
            if (it.rules.empty() && !creates) {
                items.push_back(std::move(it));
                continue;
            }
            it.facts = sql::facts_of(st);
            bool catalog = std::any_of(it.rules.begin(), it.rules.end(),
                                       [&](std::size_t r) { return rules.infos()[r].catalog; });
            if (catalog)
                for (const auto& rel : it.facts.relations) catalog_names.insert(rel.qualified());
            items.push_back(std::move(it));
        }
    }
    json catalog = json::object();
    bool connected = false;
    if (impl_->session != nullptr) {
        bool needed = false;
        for (const auto& it : items)
            for (auto r : it.rules)
                if (rules.infos()[r].catalog) needed = true;
        if (needed) {
            catalog = impl_->fetch_catalog({catalog_names.begin(), catalog_names.end()},
                                           out.catalog_queries);
            connected = true;
        }
    }

    // Exposed schemas: configured, or "public" on a Supabase target.
    json exposed = lint_cfg.exposed_schemas;
    if (lint_cfg.exposed_schemas.empty())
        exposed =
            connected && catalog.value("supabase", false) ? json::array({"public"}) : json::array();
    json options = {{"small_table", lint_cfg.small_table_bytes},
                    {"exposed_schemas", exposed},
                    {"connected", connected},
                    {"supabase", connected && catalog.value("supabase", false)}};
    rules.start(options);

    // Pass 2: the rules, statement by statement, in file order.
    std::set<std::string> created;  // tables created by earlier statements of this run
    auto is_created = [&](const std::string& name) {
        if (created.count(name)) return true;
        auto dot = name.find('.');
        if (dot == std::string::npos) return created.count("public." + name) > 0;
        return name.compare(0, dot, "public") == 0 && created.count(name.substr(dot + 1)) > 0;
    };
    std::map<std::string, line_index> indexes;
    auto index_of = [&](const file& f) -> line_index& {
        auto it = indexes.find(f.label);
        if (it == indexes.end()) it = indexes.emplace(f.label, line_index(f.text)).first;
        return it->second;
    };
    std::vector<finding> raw;
    std::map<std::string, const file*> by_label;
    for (const auto& f : files) by_label[f.label] = &f;

    for (auto& it : items) {
        const auto& st = it.f->script->statements[it.index];
        if (!it.rules.empty()) {
            json tables = json::object();
            for (const auto& rel : it.facts.relations) {
                auto name = rel.qualified();
                if (tables.contains(name)) continue;
                table_info info;
                info.created = is_created(name);
                if (connected && catalog["tables"].contains(name)) {
                    const auto& c = catalog["tables"][name];
                    info.known = true;
                    info.exists = c.value("exists", false);
                    info.bytes = c.value("bytes", 0LL);
                    info.rows = c.value("rows", -1LL);
                    info.rls = c.value("rls", false);
                    info.kind = c.value("kind", "");
                    info.qualified = c.value("qualified", "");
                }
                auto j = info.to_json();
                if (connected && catalog["tables"].contains(name))
                    j["columns"] = catalog["tables"][name]["columns"];
                tables[name] = std::move(j);
            }
            json stmt = {{"kind", st.kind},
                         {"node", st.tree.is_object() ? st.tree.at(st.kind) : json::object()},
                         {"text", st.text},
                         {"file", it.f->label},
                         {"line", st.line},
                         {"column", st.column},
                         {"offset", st.offset},
                         {"no_transaction", st.no_transaction},
                         {"file_no_transaction", it.f->no_transaction},
                         {"facts", it.facts.to_json()},
                         {"tables", std::move(tables)},
                         {"options", options}};
            for (auto& rep : rules.check_all(it.rules, stmt, st, it.f->label)) {
                rep.file = it.f->label;
                raw.push_back(std::move(rep));
            }
        }
        for (const auto& c : it.facts.created) created.insert(c);
    }
    for (auto& rep : rules.finish(options)) raw.push_back(std::move(rep));

    // Positions, severities from the configuration, suppressions.
    std::map<std::pair<std::string, std::size_t>, std::vector<allowance>> allow_cache;
    for (auto& f : raw) {
        auto fit = by_label.find(f.file);
        if (fit == by_label.end()) continue;
        const file& src = *fit->second;
        auto p = index_of(src).at(f.offset);
        f.line = p.line;
        f.column = p.column;
        if (std::find(lint_cfg.warn.begin(), lint_cfg.warn.end(), f.rule) != lint_cfg.warn.end())
            f.severity = "warning";
        if (std::find(lint_cfg.error.begin(), lint_cfg.error.end(), f.rule) != lint_cfg.error.end())
            f.severity = "error";
        // The statement that holds the finding.
        const auto& stmts = src.script->statements;
        auto st = std::upper_bound(
            stmts.begin(), stmts.end(), f.offset,
            [](std::size_t off, const sql::statement& s) { return off < s.offset; });
        if (st != stmts.begin()) --st;
        if (st == stmts.end()) continue;
        std::size_t index = std::size_t(st - stmts.begin());
        auto key = std::make_pair(f.file, index);
        auto ait = allow_cache.find(key);
        if (ait == allow_cache.end())
            ait = allow_cache.emplace(key, allowances_of(src.text, *src.script, index)).first;
        for (const auto& a : ait->second) {
            bool match = std::find(a.rules.begin(), a.rules.end(), f.rule) != a.rules.end() ||
                         std::find(a.rules.begin(), a.rules.end(), "all") != a.rules.end();
            if (match && !a.reason.empty()) {
                f.suppressed = true;
                f.reason = a.reason;
            }
        }
    }
    // Directives that are themselves wrong: no reason, or an unknown rule.
    std::set<std::string> known;
    for (const auto& r : rules.infos()) known.insert(r.name);
    known.insert("transaction");
    known.insert("all");
    for (const auto& f : files) {
        if (f.text.find("moonshift:allow") == std::string_view::npos) continue;
        for (std::size_t i = 0; i < f.script->statements.size(); ++i) {
            auto key = std::make_pair(f.label, i);
            auto ait = allow_cache.find(key);
            if (ait == allow_cache.end())
                ait = allow_cache.emplace(key, allowances_of(f.text, *f.script, i)).first;
            for (const auto& a : ait->second) {
                finding x;
                x.rule = "allow";
                x.file = f.label;
                x.offset = a.offset;
                auto p = index_of(f).at(a.offset);
                x.line = p.line;
                x.column = p.column;
                if (a.rules.empty() || a.reason.empty()) {
                    x.severity = "error";
                    x.message = "moonshift:allow needs a rule and a reason";
                    x.hint = "-- moonshift:allow drop-column the column has been unused since v2.3";
                    raw.push_back(x);
                    continue;
                }
                for (const auto& name : a.rules) {
                    if (known.count(name) ||
                        std::find(lint_cfg.disable.begin(), lint_cfg.disable.end(), name) !=
                            lint_cfg.disable.end())
                        continue;
                    x.severity = "warning";
                    x.message = "moonshift:allow names an unknown rule \"" + name + "\"";
                    x.hint = "see `moonshift lint --rules`";
                    raw.push_back(x);
                }
            }
        }
    }
    std::stable_sort(raw.begin(), raw.end(), [&](const finding& a, const finding& b) {
        if (a.file != b.file) {
            // Files keep the order they were given in.
            for (const auto& f : files) {
                if (f.label == a.file) return true;
                if (f.label == b.file) return false;
            }
        }
        return a.offset < b.offset;
    });
    for (auto& f : raw) {
        if (f.suppressed)
            ++out.suppressed;
        else if (f.severity == "error")
            ++out.errors;
        else
            ++out.warnings;
    }
    out.findings = std::move(raw);
    return out;
}

}  // namespace moonshift::lint
