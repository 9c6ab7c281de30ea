// Typed values of moonshift.toml; a wrong one is a usage error naming file:line.
#include "project/config_reader.hpp"

#include <cctype>
#include <stdexcept>

#include "common/error.hpp"
#include "common/text.hpp"

namespace moonshift::project::detail {
namespace {

const std::set<std::string> backup_policies = {"never", "destructive", "always"};

}  // namespace

std::string join(const std::set<std::string>& keys) {
    std::string out;
    for (const auto& k : keys) out += (out.empty() ? "" : ", ") + k;
    return out;
}

std::string reader::at(const toml::source_region& src) const {
    return file + ":" + std::to_string(src.begin.line);
}

void reader::fail(const toml::source_region& src, const std::string& what,
                  const std::string& hint) const {
    throw usage_error(at(src) + ": " + what, hint);
}

void reader::check_keys(const toml::table& t, const std::set<std::string>& allowed,
                        const std::string& section) const {
    for (auto&& [k, v] : t)
        if (!allowed.count(std::string(k.str())))
            fail(k.source(), "unknown key \"" + std::string(k.str()) + "\" in [" + section + "]",
                 "valid keys: " + join(allowed));
}

std::string reader::string_of(const toml::node& n, const std::string& key) const {
    if (auto s = n.value<std::string>()) return *s;
    fail(n.source(), "\"" + key + "\" must be a string");
}

bool reader::bool_of(const toml::node& n, const std::string& key) const {
    if (auto b = n.value<bool>(); b && n.is_boolean()) return *b;
    fail(n.source(), "\"" + key + "\" must be true or false");
}

int reader::count_of(const toml::node& n, const std::string& key, int most) const {
    const auto v = n.is_integer() ? n.value<int64_t>() : std::nullopt;
    if (v && *v >= 0 && *v <= most) return int(*v);
    if (v && *v > most) fail(n.source(), "\"" + key + "\" must be at most " + std::to_string(most));
    fail(n.source(), "\"" + key + "\" must be a whole number (0 or more)");
}

std::vector<std::string> reader::strings_of(const toml::node& n, const std::string& key) const {
    std::vector<std::string> out;
    auto* a = n.as_array();
    if (!a)
        fail(n.source(), "\"" + key + "\" must be an array of strings",
             "for example [\"a\", \"b\"]");
    for (auto&& item : *a) out.push_back(string_of(item, key));
    return out;
}

std::string reader::policy_of(const toml::node& n, const std::string& key) const {
    auto v = string_of(n, key);
    if (!backup_policies.count(v))
        fail(n.source(),
             "\"" + key + "\" must be \"never\", \"destructive\" or \"always\", not \"" + v + "\"");
    return v;
}

std::string reader::store_of(const toml::node& n, const std::string& key) const {
    auto v = string_of(n, key);
    if (v != "files" && v != "database")
        fail(n.source(), "\"" + key + "\" must be \"files\" or \"database\", not \"" + v + "\"",
             "\"database\" keeps backups as tables in the target database ([backup] schema)");
    return v;
}

std::string reader::pooler_of(const toml::node& n, const std::string& key) const {
    auto v = string_of(n, key);
    if (v != "auto" && v != "transaction" && v != "none")
        fail(n.source(),
             "\"" + key + "\" must be \"auto\", \"transaction\" or \"none\", not \"" + v + "\"",
             "docs/poolers.md says what each does");
    return v;
}

long long reader::size_of(const toml::node& n, const std::string& key) const {
    if (auto v = n.value<int64_t>(); v && n.is_integer() && *v >= 0) return *v;
    std::string text = n.is_string() ? *n.value<std::string>() : "";
    std::size_t used = 0;
    long long number = -1;
    try {
        number = std::stoll(text, &used);
    } catch (const std::exception&) {  // not a number: reported below with the units
    }
    std::string unit = text::trim(text.substr(used));
    for (auto& c : unit) c = char(std::tolower(static_cast<unsigned char>(c)));
    long long scale = unit.empty() || unit == "b" ? 1
                      : unit == "kb"              ? 1024LL
                      : unit == "mb"              ? 1024LL * 1024
                      : unit == "gb"              ? 1024LL * 1024 * 1024
                      : unit == "tb"              ? 1024LL * 1024 * 1024 * 1024
                                                  : 0;
    if (number < 0 || scale == 0)
        fail(n.source(), "\"" + key + "\" must be a size such as \"10MB\"",
             "units: B, kB, MB, GB, TB");
    return number * scale;
}

std::chrono::milliseconds reader::duration_of(const toml::node& n, const std::string& key) const {
    if (!n.is_string())
        fail(n.source(), "\"" + key + "\" must be a duration string with its unit",
             "for example \"5s\", \"250ms\", \"2min\"");
    try {
        return text::parse_duration(*n.value<std::string>());
    } catch (const std::exception& e) {
        fail(n.source(), "bad duration for \"" + key + "\": " + e.what(),
             "for example \"5s\", \"250ms\", \"2min\"");
    }
}

std::chrono::milliseconds reader::seconds_of(const toml::node& n, const std::string& key) const {
    if (auto v = n.value<int64_t>(); v && n.is_integer() && *v >= 0)
        return std::chrono::seconds(*v);
    return duration_of(n, key);
}

}  // namespace moonshift::project::detail
