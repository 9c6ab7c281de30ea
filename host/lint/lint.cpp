// The linter: statements in, findings out. Parsing happens before (one
// parse per file, shared with the rest of the gate); the rules are Lua
// (lint_rules.cpp loads and calls them); the catalog facts they may use are
// fetched here in one query, and only when a rule that asked for them will run.
#include "lint/lint.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "common/text.hpp"
#include "db/quote.hpp"
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

// ---- linter -------------------------------------------------------------------

namespace {

// A statement on its way through the rules: its facts, and which rules check it.
struct item {
    const file* f;
    std::size_t index;
    sql::facts facts;
    std::vector<std::size_t> rules;  // indexes of the rules that check it
};

// Pass 1: the facts of every statement a rule checks or that creates a
// table, and the names of the tables a rule that reads the catalog will see.
std::vector<item> collect(const std::vector<file>& files, const rule_set& rules,
                          std::set<std::string>& catalog_names) {
    std::vector<item> items;
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
    return items;
}

bool reads_catalog(const std::vector<item>& items, const rule_set& rules) {
    for (const auto& it : items)
        for (auto r : it.rules)
            if (rules.infos()[r].catalog) return true;
    return false;
}

// Catalog facts of every table the statements name, in one query.
json fetch_catalog(db::session& s, const std::vector<std::string>& names) {
    std::vector<std::string> regnames;
    for (const auto& n : names) {
        auto dot = n.find('.');
        regnames.push_back(dot == std::string::npos
                               ? db::quote::ident(n)
                               : db::quote::qualified(n.substr(0, dot), n.substr(dot + 1)));
    }
    auto r = s.query(
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
        db::quote::array(names), db::quote::array(regnames));
    return json::parse(r[0][0].c_str());
}

// What every rule sees as options. Exposed schemas: configured, or
// "public" on a Supabase target.
json rule_options(const project::lint_settings& cfg, bool connected, const json& catalog) {
    bool supabase = connected && catalog.value("supabase", false);
    json exposed = cfg.exposed_schemas;
    if (cfg.exposed_schemas.empty()) exposed = supabase ? json::array({"public"}) : json::array();
    return {{"small_table", cfg.small_table_bytes},
            {"exposed_schemas", exposed},
            {"connected", connected},
            {"supabase", supabase}};
}

// Tables created by earlier statements of this run; "public.x" and "x" are one.
class created_tables {
  public:
    void add(const std::string& name) { names_.insert(name); }
    bool has(const std::string& name) const {
        if (names_.count(name)) return true;
        auto dot = name.find('.');
        if (dot == std::string::npos) return names_.count("public." + name) > 0;
        return name.compare(0, dot, "public") == 0 && names_.count(name.substr(dot + 1)) > 0;
    }

  private:
    std::set<std::string> names_;
};

// A table created in the run and then renamed is still created in the run.
void follow_rename(const sql::statement& st, created_tables& created) {
    if (st.kind != "RenameStmt" || !st.tree.is_object()) return;
    const auto& n = st.tree.at("RenameStmt");
    if (n.value("renameType", "") != "OBJECT_TABLE" || !n.contains("relation")) return;
    auto schema = n["relation"].value("schemaname", "");
    auto prefix = schema.empty() ? std::string() : schema + ".";
    if (created.has(prefix + n["relation"].value("relname", "")))
        created.add(prefix + n.value("newname", ""));
}

// What the rules of one statement see of the tables it names.
json tables_of(const item& it, const created_tables& created, const json& catalog, bool connected) {
    json tables = json::object();
    for (const auto& rel : it.facts.relations) {
        auto name = rel.qualified();
        if (tables.contains(name)) continue;
        table_info info;
        info.created = created.has(name);
        bool known = connected && catalog.contains("tables") && catalog["tables"].contains(name);
        if (known) {
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
        if (known) j["columns"] = catalog["tables"][name]["columns"];
        tables[name] = std::move(j);
    }
    return tables;
}

// Pass 2: the rules, statement by statement, in file order.
std::vector<finding> check_statements(std::vector<item>& items, rule_set& rules,
                                      const json& catalog, bool connected, const json& options) {
    created_tables created;
    std::vector<finding> raw;
    for (auto& it : items) {
        const auto& st = it.f->script->statements[it.index];
        if (!it.rules.empty()) {
            // The tree goes to Lua from where it is: a copy into one object
            // cost more than the rules themselves.
            static const json no_node = json::object();
            const json& node = st.tree.is_object() ? st.tree.at(st.kind) : no_node;
            json kind = st.kind, text = st.text, file = it.f->label, line = st.line,
                 column = st.column, offset = st.offset, no_transaction = st.no_transaction,
                 file_no_transaction = it.f->no_transaction, facts = it.facts.to_json(),
                 tables = tables_of(it, created, catalog, connected);
            lua::json_record stmt = {{"kind", &kind},
                                     {"node", &node},
                                     {"text", &text},
                                     {"file", &file},
                                     {"line", &line},
                                     {"column", &column},
                                     {"offset", &offset},
                                     {"no_transaction", &no_transaction},
                                     {"file_no_transaction", &file_no_transaction},
                                     {"facts", &facts},
                                     {"tables", &tables},
                                     {"options", &options}};
            for (auto& rep : rules.check_all(it.rules, stmt, st, it.f->label)) {
                rep.file = it.f->label;
                raw.push_back(std::move(rep));
            }
        }
        for (const auto& c : it.facts.created) created.add(c);
        follow_rename(st, created);
    }
    return raw;
}

// Line indexes and moonshift:allow directives of the files, each read once.
class file_places {
  public:
    explicit file_places(const std::vector<file>& files) {
        for (const auto& f : files) by_label_[f.label] = &f;
    }
    const file* find(const std::string& label) const {
        auto it = by_label_.find(label);
        return it == by_label_.end() ? nullptr : it->second;
    }
    text::position at(const file& f, std::size_t offset) {
        auto it = indexes_.find(f.label);
        if (it == indexes_.end()) it = indexes_.emplace(f.label, line_index(f.text)).first;
        return it->second.at(offset);
    }
    const std::vector<allowance>& allowances(const file& f, std::size_t statement) {
        auto key = std::make_pair(f.label, statement);
        auto it = allow_.find(key);
        if (it == allow_.end())
            it = allow_.emplace(key, allowances_of(f.text, *f.script, statement)).first;
        return it->second;
    }

  private:
    std::map<std::string, const file*> by_label_;
    std::map<std::string, line_index> indexes_;
    std::map<std::pair<std::string, std::size_t>, std::vector<allowance>> allow_;
};

bool listed(const std::vector<std::string>& list, const std::string& name) {
    return std::find(list.begin(), list.end(), name) != list.end();
}

// Positions, severities from the configuration, suppressions.
void place(std::vector<finding>& raw, file_places& places, const project::lint_settings& cfg) {
    for (auto& f : raw) {
        const file* src = places.find(f.file);
        if (!src) continue;
        auto p = places.at(*src, f.offset);
        f.line = p.line;
        f.column = p.column;
        if (listed(cfg.warn, f.rule)) f.severity = "warning";
        if (listed(cfg.error, f.rule)) f.severity = "error";
        // The statement that holds the finding.
        const auto& stmts = src->script->statements;
        auto st = std::upper_bound(
            stmts.begin(), stmts.end(), f.offset,
            [](std::size_t off, const sql::statement& s) { return off < s.offset; });
        if (st != stmts.begin()) --st;
        if (st == stmts.end()) continue;
        for (const auto& a : places.allowances(*src, std::size_t(st - stmts.begin()))) {
            bool match = listed(a.rules, f.rule) || listed(a.rules, "all");
            if (match && !a.reason.empty()) {
                f.suppressed = true;
                f.reason = a.reason;
            }
        }
    }
}

// Directives that are themselves wrong: no reason, or an unknown rule.
void check_directives(const std::vector<file>& files, const rule_set& rules, file_places& places,
                      const project::lint_settings& cfg, std::vector<finding>& raw) {
    std::set<std::string> known = {"transaction", "transaction-nesting", "unclosed-transaction",
                                   "concurrently-in-transaction", "all"};
    for (const auto& r : rules.infos()) known.insert(r.name);
    for (const auto& f : files) {
        if (f.text.find("moonshift:allow") == std::string_view::npos) continue;
        for (std::size_t i = 0; i < f.script->statements.size(); ++i) {
            for (const auto& a : places.allowances(f, i)) {
                finding x;
                x.rule = "allow";
                x.file = f.label;
                x.offset = a.offset;
                auto p = places.at(f, a.offset);
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
                    if (known.count(name) || listed(cfg.disable, name)) continue;
                    x.severity = "warning";
                    x.message = "moonshift:allow names an unknown rule \"" + name + "\"";
                    x.hint = "see `moonshift lint --rules`";
                    raw.push_back(x);
                }
            }
        }
    }
}

// Findings in file order (files as given), then by offset; and the counts.
void order_and_count(std::vector<finding> raw, const std::vector<file>& files, result& out) {
    std::stable_sort(raw.begin(), raw.end(), [&](const finding& a, const finding& b) {
        if (a.file != b.file) {
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
}

}  // namespace

struct linter::impl {
    const project::config& cfg;
    db::session* session;
    rule_set rules;

    impl(const project::config& c, db::session* s, lua::runtime* rt)
        : cfg(c), session(s), rules(c, rt, s) {}
};

linter::linter(const project::config& cfg, db::session* session, lua::runtime* runtime)
    : impl_(std::make_unique<impl>(cfg, session, runtime)) {}

linter::~linter() = default;

const std::vector<rule_info>& linter::rules() const { return impl_->rules.infos(); }

result linter::run(const std::vector<file>& files) {
    auto& rules = impl_->rules;
    const auto& lint_cfg = impl_->cfg.lint;
    result out;
    std::set<std::string> catalog_names;
    auto items = collect(files, rules, catalog_names);
    // The catalog only when a rule that reads it is going to run.
    json catalog = json::object();
    bool connected = false;
    if (impl_->session != nullptr && reads_catalog(items, rules)) {
        ++out.catalog_queries;
        catalog = fetch_catalog(*impl_->session, {catalog_names.begin(), catalog_names.end()});
        connected = true;
    }
    json options = rule_options(lint_cfg, connected, catalog);
    rules.start(options);
    auto raw = check_statements(items, rules, catalog, connected, options);
    for (auto& rep : rules.finish(options)) raw.push_back(std::move(rep));
    file_places places(files);
    place(raw, places, lint_cfg);
    check_directives(files, rules, places, lint_cfg, raw);
    order_and_count(std::move(raw), files, out);
    return out;
}

}  // namespace moonshift::lint
