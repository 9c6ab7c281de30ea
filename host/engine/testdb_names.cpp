// The names `moonshift testdb` gives its databases and what it reads back
// from them: the project, the content hash of a template, the creation time
// of a test database. PostgreSQL allows 63 bytes; the longest name (a
// spare's) is 62.
#include <cctype>
#include <random>
#include <regex>

#include "common/text.hpp"
#include "engine/testdb.hpp"

namespace moonshift::testdb {
namespace {

constexpr std::size_t slug_max = 24;
const char* const digits36 = "0123456789abcdefghijklmnopqrstuvwxyz";

std::string base36(unsigned long long v) {
    std::string out;
    do {
        out.insert(out.begin(), digits36[v % 36]);
        v /= 36;
    } while (v > 0);
    return out;
}

std::string random36(std::size_t n) {
    static thread_local std::mt19937_64 gen{std::random_device{}()};
    std::uniform_int_distribution<int> pick(0, 35);
    std::string out;
    while (out.size() < n) out += digits36[pick(gen)];
    return out;
}

}  // namespace

std::string project_slug(const project::config& cfg, const catalog::catalog& cat) {
    // The history key when the file names one, Sqitch's %project, else the project's folder.
    std::string name = cfg.history_key.value_or(cat.project);
    if (name.empty()) name = cfg.root.lexically_normal().filename().string();
    if (name.empty()) name = cfg.root.lexically_normal().parent_path().filename().string();
    std::string slug;
    for (unsigned char c : name) {
        char l = static_cast<char>(std::tolower(c));
        bool word = std::isalnum(static_cast<unsigned char>(l)) && c < 128;
        if (word)
            slug += l;
        else if (!slug.empty() && slug.back() != '_')
            slug += '_';
        if (slug.size() >= slug_max) break;
    }
    while (!slug.empty() && slug.back() == '_') slug.pop_back();
    return slug.empty() ? "project" : slug;
}

std::string template_name(const std::string& project, const std::string& hash12, bool seeded) {
    return "moonshift_tpl_" + project + "_" + hash12 + (seeded ? "_s" : "");
}

std::string spare_name(const std::string& project, const std::string& hash12, bool seeded) {
    return "moonshift_spare_" + project + "_" + hash12 + (seeded ? "_s_" : "_") + random36(6);
}

std::string template_of_spare(const parsed_name& spare) {
    return template_name(spare.project, spare.hash12, spare.seeded);
}

std::string database_name(const std::string& project, bool keep,
                          std::chrono::system_clock::time_point created) {
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(created.time_since_epoch());
    return std::string(keep ? "moonshift_keep_" : "moonshift_test_") + project + "_" +
           base36(static_cast<unsigned long long>(secs.count())) + "_" + random36(8);
}

std::optional<parsed_name> parse_name(const std::string& name) {
    static const std::regex tpl(R"(^moonshift_tpl_([a-z0-9_]+)_([0-9a-f]{12})(_s)?$)");
    static const std::regex spare(
        R"(^moonshift_spare_([a-z0-9_]+)_([0-9a-f]{12})(_s)?_[0-9a-z]{6}$)");
    static const std::regex test(
        R"(^moonshift_(test|keep)_([a-z0-9_]+)_([0-9a-z]+)_([0-9a-z]{8})$)");
    std::smatch m;
    parsed_name out;
    if (std::regex_match(name, m, tpl)) {
        out.is_template = true;
        out.project = m[1];
        out.hash12 = m[2];
        out.seeded = m[3].matched;
        return out;
    }
    if (std::regex_match(name, m, spare)) {
        out.is_spare = true;
        out.project = m[1];
        out.hash12 = m[2];
        out.seeded = m[3].matched;
        return out;
    }
    if (!std::regex_match(name, m, test) || m[3].length() > 12) return std::nullopt;
    out.kept = m[1] == "keep";
    out.project = m[2];
    out.created = std::chrono::system_clock::time_point(
        std::chrono::seconds(std::stoll(m[3].str(), nullptr, 36)));
    return out;
}

std::string content_hash(const project::config& cfg, const catalog::catalog& cat,
                         const std::vector<std::pair<std::string, std::string>>& seeds) {
    std::string all = "host " + history::store::host_schema_digest() + "\nschema " + cfg.schema +
                      "\nkey " + cfg.history_key.value_or(cat.project) + "\nformat " + cat.format +
                      "\n";
    auto add = [&all](const char* kind, const std::vector<catalog::migration>& list) {
        for (const auto& m : list)
            all += std::string(kind) + " " + m.version + " " + m.name + " " + m.checksum + "\n";
    };
    add("migration", cat.migrations);
    add("baseline", cat.baselines);
    add("repeatable", cat.repeatables);
    for (const auto& [label, content] : seeds)
        all += "seed " + label + " " + text::sha256_hex(content) + "\n";
    return text::sha256_hex(all).substr(0, 12);
}

}  // namespace moonshift::testdb
