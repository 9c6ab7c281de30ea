// Loading and calling the Lua lint rules.
#include "lint/rules.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "common/embedded.hpp"
#include "common/error.hpp"
#include "common/text.hpp"
#include "lua/runtime.hpp"

namespace moonshift::lint {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

const std::vector<lua::field>& rule_fields() {
    static const std::vector<lua::field> fields = {
        {"name", lua::value_type::string},     {"description", lua::value_type::string},
        {"severity", lua::value_type::string}, {"kinds", lua::value_type::string},
        {"catalog", lua::value_type::boolean}, {"check", lua::value_type::function},
        {"start", lua::value_type::function},  {"finish", lua::value_type::function},
    };
    return fields;
}

bool valid_rule_name(const std::string& n) {
    if (n.empty()) return false;
    for (char c : n)
        if (!(std::islower(static_cast<unsigned char>(c)) ||
              std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '_'))
            return false;
    return true;
}

struct source {
    std::string label, text, stem;
};

std::vector<source> rule_sources(const project::config& cfg) {
    std::vector<source> out;
    for (const auto& f : embedded::under("scripts/lint/")) {
        std::string path = f.path;
        if (path.size() < 4 || path.compare(path.size() - 4, 4, ".lua") != 0) continue;
        auto name = path.substr(std::string("scripts/lint/").size());
        if (name.find('/') != std::string::npos) continue;
        out.push_back(
            {"builtin:lint/" + name, std::string(f.content), name.substr(0, name.size() - 4)});
    }
    fs::path dir = cfg.root / "scripts" / "lint";
    std::error_code ec;
    if (fs::is_directory(dir, ec)) {
        std::vector<fs::path> files;
        for (const auto& e : fs::directory_iterator(dir, ec))
            if (e.is_regular_file() && e.path().extension() == ".lua") files.push_back(e.path());
        std::sort(files.begin(), files.end());
        for (const auto& p : files)
            out.push_back({"scripts/lint/" + p.filename().string(),
                           text::normalize_newlines(text::read_file(p)), p.stem().string()});
    }
    return out;
}

// A rule's fields, checked.
rule_info describe(const lua::script& s, const source& src) {
    rule_info info;
    info.file = src.label;
    info.name = s.string("name").value_or(src.stem);
    info.description = s.string("description").value_or("");
    info.severity = s.string("severity").value_or("error");
    info.kinds = s.string("kinds").value_or("");
    info.catalog = s.boolean("catalog").value_or(false);
    if (!valid_rule_name(info.name))
        throw usage_error("lint rule " + src.label + ": name \"" + info.name +
                              "\" must be lower-case letters, digits, - and _",
                          "rename the file or set name = \"...\"");
    if (info.severity != "error" && info.severity != "warning")
        throw usage_error("lint rule " + src.label +
                          ": severity must be \"error\" or \"warning\", not \"" + info.severity +
                          "\"");
    if (!s.has("check") && !s.has("finish"))
        throw usage_error("lint rule " + src.label + " has neither check nor finish",
                          "return { check = function(stmt) ... end }");
    return info;
}

// The statement kinds a rule's check wants ("" = every statement; "-" for a
// rule with finish only, never called per statement).
std::set<std::string> kinds_of(const lua::script& s, const rule_info& info) {
    if (!s.has("check")) return {"-"};
    std::set<std::string> k;
    std::string word;
    for (char c : info.kinds + " ") {
        if (c == ' ' || c == ',' || c == '\t') {
            if (!word.empty()) k.insert(word);
            word.clear();
        } else {
            word += c;
        }
    }
    return k;
}

void check_names(const std::vector<std::string>& names, const char* key,
                 const std::map<std::string, std::size_t>& index,
                 const std::vector<rule_info>& infos) {
    for (const auto& n : names)
        if (!index.count(n) && n != "transaction") {
            std::string all;
            for (const auto& i : infos) all += (all.empty() ? "" : ", ") + i.name;
            throw usage_error("[lint] " + std::string(key) + " names an unknown rule \"" + n + "\"",
                              "rules: " + all);
        }
}

// The time budget of lint rules ([lua] lint) around each call into them,
// restoring what the runtime's owner set.
class lint_budget {
  public:
    lint_budget(lua::runtime& rt, std::chrono::milliseconds b)
        : rt_(rt), before_(rt.set_deadline(b)) {}
    ~lint_budget() { rt_.set_deadline(before_); }

  private:
    lua::runtime& rt_;
    std::chrono::milliseconds before_;
};

}  // namespace

struct rule_set::impl {
    std::unique_ptr<lua::runtime> own;
    lua::runtime* rt = nullptr;
    std::chrono::milliseconds budget{10000};  // per call: one statement, every rule on it
    std::vector<lua::script> scripts;
    std::vector<std::set<std::string>> kinds;  // empty: every statement
    mutable std::map<std::string, std::vector<std::size_t>> by_kind;
};

rule_set::rule_set(const project::config& cfg, lua::runtime* runtime, db::session* session)
    : impl_(std::make_unique<impl>()) {
    auto& m = *impl_;
    m.budget = cfg.lua_budget("lint", m.budget);
    if (runtime) {
        m.rt = runtime;
    } else {
        lua::options o;
        o.project_root = cfg.root;
        o.memory_limit = static_cast<std::size_t>(cfg.lua_memory);
        o.load_budget = cfg.lua_budget("load", o.load_budget);
        o.variables = project::variables(cfg);  // env.get reads the project's .env
        m.own = std::make_unique<lua::runtime>(session, o);
        m.rt = m.own.get();
    }
    std::map<std::string, std::size_t> index;  // rule name -> position
    for (auto& src : rule_sources(cfg)) {
        lua::script s = [&] {
            try {
                return m.rt->load(src.label, src.text, rule_fields());
            } catch (const lua::script_error& e) {
                throw usage_error(
                    std::string("lint rule ") + src.label + " does not load: " + e.what(),
                    "fix or remove the rule file");
            }
        }();
        rule_info info = describe(s, src);
        std::set<std::string> k = kinds_of(s, info);
        // A project rule replaces the built-in one of the same name.
        if (auto it = index.find(info.name); it != index.end()) {
            infos_[it->second] = info;
            m.scripts[it->second] = std::move(s);
            m.kinds[it->second] = std::move(k);
        } else {
            index[info.name] = infos_.size();
            infos_.push_back(info);
            m.scripts.push_back(std::move(s));
            m.kinds.push_back(std::move(k));
        }
    }
    // [lint] names must be rules, so that a typo does not silently keep a rule on.
    check_names(cfg.lint.disable, "disable", index, infos_);
    check_names(cfg.lint.warn, "warn", index, infos_);
    check_names(cfg.lint.error, "error", index, infos_);
    for (std::size_t i = infos_.size(); i-- > 0;) {
        if (std::find(cfg.lint.disable.begin(), cfg.lint.disable.end(), infos_[i].name) ==
            cfg.lint.disable.end())
            continue;
        infos_.erase(infos_.begin() + long(i));
        m.scripts.erase(m.scripts.begin() + long(i));
        m.kinds.erase(m.kinds.begin() + long(i));
    }
}

rule_set::~rule_set() {
    // Scripts go before a runtime this set owns.
    impl_->scripts.clear();
}

const std::vector<std::size_t>& rule_set::for_kind(const std::string& kind) const {
    auto& m = *impl_;
    auto it = m.by_kind.find(kind);
    if (it != m.by_kind.end()) return it->second;
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < m.kinds.size(); ++i)
        if (m.kinds[i].empty() || m.kinds[i].count(kind)) out.push_back(i);
    return m.by_kind.emplace(kind, std::move(out)).first->second;
}

namespace {

// A rule's answer: nil, a message, {message=, at=, hint=, severity=}, or a list of those.
void read_results(const json& r, const rule_info& info, std::size_t default_offset,
                  const std::string& default_file, std::vector<finding>& out) {
    // An empty Lua table ({}, a list that found nothing) arrives as an empty object.
    if (r.is_null() || (r.is_boolean() && !r.get<bool>()) || (r.is_object() && r.empty())) return;
    if (r.is_array()) {
        for (const auto& x : r) read_results(x, info, default_offset, default_file, out);
        return;
    }
    finding f;
    f.rule = info.name;
    f.rule_file = info.file;
    f.severity = info.severity;
    f.offset = default_offset;
    f.file = default_file;
    if (r.is_string()) {
        f.message = r.get<std::string>();
    } else if (r.is_object()) {
        f.message = r.value("message", "");
        f.hint = r.value("hint", "");
        auto sev = r.value("severity", "");
        if (sev == "error" || sev == "warning") f.severity = sev;
        if (r.contains("at") && r["at"].is_number()) f.offset = r["at"].get<std::size_t>();
        if (r.contains("file") && r["file"].is_string()) f.file = r["file"].get<std::string>();
    }
    if (f.message.empty())
        throw usage_error("lint rule " + info.file + " returned a finding without a message",
                          "return \"message\" or { message = \"...\", at = node.location }");
    out.push_back(std::move(f));
}

}  // namespace

void rule_set::start(const json& options) {
    auto& m = *impl_;
    for (std::size_t i = 0; i < m.scripts.size(); ++i) {
        if (!m.scripts[i].has("start")) continue;
        try {
            lint_budget b(*m.rt, m.budget);
            m.rt->call(m.scripts[i], "start", lua::phase::check, {options});
        } catch (const lua::script_error& e) {
            throw usage_error("lint rule " + infos_[i].file + " failed in start: " + e.what(),
                              "fix the rule, or turn it off with [lint] disable");
        }
    }
}

std::vector<finding> rule_set::check(std::size_t r, const json& stmt, const sql::statement& st,
                                     const std::string& file_label) {
    auto& m = *impl_;
    std::vector<finding> out;
    json result;
    try {
        lint_budget b(*m.rt, m.budget);
        result = m.rt->call(m.scripts[r], "check", lua::phase::check, {stmt});
    } catch (const lua::check_failure& e) {
        result = e.reason();
    } catch (const lua::script_error& e) {
        throw usage_error("lint rule " + infos_[r].file + " failed on " + file_label + ":" +
                              std::to_string(st.line) + ":" + std::to_string(st.column) + ": " +
                              e.what(),
                          "fix the rule, or turn it off with [lint] disable");
    }
    read_results(result, infos_[r], st.offset, file_label, out);
    return out;
}

std::vector<finding> rule_set::check_all(const std::vector<std::size_t>& rules,
                                         const lua::json_record& stmt, const sql::statement& st,
                                         const std::string& file_label) {
    auto& m = *impl_;
    std::vector<const lua::script*> scripts;
    for (auto r : rules) scripts.push_back(&m.scripts[r]);
    std::vector<json> results;
    std::size_t failed = 0;
    try {
        lint_budget b(*m.rt, m.budget);
        results = m.rt->call_each(scripts, "check", lua::phase::check, stmt, &failed);
    } catch (const lua::check_failure& e) {
        // ctx:fail in a rule is its finding; the rules after it run on their own.
        std::vector<finding> out;
        std::vector<std::size_t> rest(rules.begin() + long(failed) + 1, rules.end());
        read_results(e.reason(), infos_[rules[failed]], st.offset, file_label, out);
        for (auto& f : check_all(rest, stmt, st, file_label)) out.push_back(std::move(f));
        return out;
    } catch (const lua::script_error& e) {
        const auto& info = infos_[rules[failed]];
        throw usage_error("lint rule " + info.file + " failed on " + file_label + ":" +
                              std::to_string(st.line) + ":" + std::to_string(st.column) + ": " +
                              e.what(),
                          "fix the rule, or turn it off with [lint] disable");
    }
    std::vector<finding> out;
    for (std::size_t i = 0; i < results.size(); ++i)
        read_results(results[i], infos_[rules[i]], st.offset, file_label, out);
    return out;
}

std::vector<finding> rule_set::finish(const json& options) {
    auto& m = *impl_;
    std::vector<finding> out;
    for (std::size_t i = 0; i < m.scripts.size(); ++i) {
        if (!m.scripts[i].has("finish")) continue;
        json result;
        try {
            lint_budget b(*m.rt, m.budget);
            result = m.rt->call(m.scripts[i], "finish", lua::phase::check, {options});
        } catch (const lua::script_error& e) {
            throw usage_error("lint rule " + infos_[i].file + " failed in finish: " + e.what(),
                              "fix the rule, or turn it off with [lint] disable");
        }
        std::vector<finding> found;
        read_results(result, infos_[i], 0, "", found);
        for (auto& f : found)
            if (!f.file.empty()) out.push_back(std::move(f));
    }
    return out;
}

}  // namespace moonshift::lint
