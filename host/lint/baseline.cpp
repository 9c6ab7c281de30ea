// The lint baseline (baseline.hpp).
#include "lint/baseline.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "common/text.hpp"

namespace moonshift::lint {
namespace {

using json = nlohmann::json;

// The text of the statement that holds the finding; for a finding outside
// any statement (a file that does not parse), its line.
std::string anchor(const finding& f, const std::vector<file>& files) {
    auto src =
        std::find_if(files.begin(), files.end(), [&](const file& x) { return x.label == f.file; });
    if (src != files.end() && src->script) {
        const auto& stmts = src->script->statements;
        auto st = std::upper_bound(
            stmts.begin(), stmts.end(), f.offset,
            [](std::size_t off, const sql::statement& s) { return off < s.offset; });
        if (st != stmts.begin()) {
            --st;
            if (f.offset < st->offset + st->length + 1) return text::sha256_hex(st->text);
        }
    }
    return "line " + std::to_string(f.line);
}

std::string key(const std::string& file, const std::string& rule, const std::string& anchor) {
    return file + "\n" + rule + "\n" + anchor;
}

}  // namespace

baseline load_baseline(const project::config& cfg) {
    baseline b;
    b.path = cfg.root / cfg.lint.baseline;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(b.path, ec)) return b;
    auto shown = b.path.lexically_relative(cfg.root).generic_string();
    auto doc = json::parse(text::read_file(b.path), nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("findings") ||
        !doc["findings"].is_array())
        throw usage_error(shown + " is not a lint baseline (JSON with a \"findings\" array)",
                          "write it again with `moonshift lint --baseline`");
    for (const auto& f : doc["findings"])
        if (f.is_object())
            b.keys.insert(key(f.value("file", ""), f.value("rule", ""), f.value("statement", "")));
    b.present = true;
    return b;
}

int apply_baseline(std::vector<finding>& findings, const std::vector<file>& files,
                   const baseline& b) {
    if (b.keys.empty()) return 0;
    int n = 0;
    for (auto& f : findings) {
        if (f.suppressed || !b.keys.count(key(f.file, f.rule, anchor(f, files)))) continue;
        f.suppressed = true;
        f.reason = "in the lint baseline (" + b.path.filename().string() + ")";
        ++n;
    }
    return n;
}

json baseline_json(const std::vector<finding>& findings, const std::vector<file>& files) {
    json out = json::array();
    std::set<std::string> seen;
    for (const auto& f : findings) {
        if (f.suppressed) continue;
        auto a = anchor(f, files);
        if (!seen.insert(key(f.file, f.rule, a)).second) continue;
        out.push_back({{"file", f.file},
                       {"rule", f.rule},
                       {"line", f.line},
                       {"severity", f.severity},
                       {"statement", a}});
    }
    return {{"moonshift_lint_baseline", 1},
            {"note",
             "findings accepted when this project adopted moonshift; "
             "`moonshift lint --baseline` writes it again"},
            {"findings", out}};
}

}  // namespace moonshift::lint
