// Merging, interpolating and locating the hooks of an environment.
#include "notify/settings.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <type_traits>

#include "common/embedded.hpp"
#include "common/error.hpp"
#include "common/text.hpp"
#include "net/http.hpp"
#include "notify/events.hpp"

namespace moonshift::notify {
namespace fs = std::filesystem;
namespace {

using nlohmann::json;

std::string config_file(const project::config& cfg) {
    return cfg.file.empty() ? std::string("moonshift.toml") : cfg.file.filename().string();
}

// Keys whose values are credentials: anything secret-looking, every URL
// (webhook URLs carry their token in the path) and the SMTP user.
bool secret_key(const std::string& key) {
    std::string lower = key;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text::is_secret_name(key) || lower.find("url") != std::string::npos || lower == "user" ||
           lower == "username" || lower == "password";
}

// A path segment that looks like a token (Slack's T0123ABCD/B0123ABCD/XXXX):
// long enough, with a digit or a capital. A receiver may echo one alone.
bool token_like(const std::string& segment) {
    return segment.size() >= 6 && std::any_of(segment.begin(), segment.end(), [](unsigned char c) {
               return std::isdigit(c) || std::isupper(c);
           });
}

void collect_secrets(const json& value, std::vector<std::string>& out) {
    if (value.is_string()) {
        auto s = value.get<std::string>();
        if (s.size() >= 3) out.push_back(s);
        for (auto& part : net::detail::url_secrets(s)) {
            if (part.size() >= 3 && part != s) out.push_back(part);
            for (std::size_t at = 0; at < part.size();) {
                auto slash = part.find('/', at);
                auto segment =
                    part.substr(at, slash == std::string::npos ? std::string::npos : slash - at);
                if (token_like(segment)) out.push_back(segment);
                if (slash == std::string::npos) break;
                at = slash + 1;
            }
        }
    } else if (value.is_structured()) {
        for (const auto& v : value) collect_secrets(v, out);
    }
}

json interpolate(const json& value, const std::map<std::string, std::string>& vars,
                 const std::string& where) {
    if (value.is_string()) return project::interpolate(value.get<std::string>(), vars, where);
    if (value.is_array()) {
        json out = json::array();
        for (const auto& v : value) out.push_back(interpolate(v, vars, where));
        return out;
    }
    if (value.is_object()) {
        json out = json::object();
        for (auto& [k, v] : value.items()) out[k] = interpolate(v, vars, where);
        return out;
    }
    return value;
}

// Where a key of a hook was written: the environment's section when it set
// the key, else the base section.
struct located {
    const project::notify_section* base = nullptr;
    const project::notify_section* over = nullptr;
    std::string name, env;

    std::string at(const project::config& cfg, const std::string& key) const {
        std::string file = config_file(cfg);
        if (over && (key.empty() || over->lines.count(key)))
            return file + ":" + std::to_string(key.empty() ? over->line : over->lines.at(key)) +
                   " ([env." + env + ".notify." + name + "]" + (key.empty() ? "" : " " + key) + ")";
        if (base && (key.empty() || base->lines.count(key)))
            return file + ":" + std::to_string(key.empty() ? base->line : base->lines.at(key)) +
                   " ([notify." + name + "]" + (key.empty() ? "" : " " + key) + ")";
        return file + " ([notify." + name + "])";
    }
};

}  // namespace

const std::vector<std::string>& builtin_hooks() {
    static const std::vector<std::string> names = {"console", "slack", "email", "webhook", "ci"};
    return names;
}

namespace {

// The code: the project's hooks/<hook>.lua first, so a team can replace a
// built-in hook; then the built-in one. `where` names the setting for the
// error when there is neither.
void find_code(hook_config& h, const fs::path& dir, const std::string& where) {
    std::error_code ec;
    fs::path file = dir / (h.hook + ".lua");
    if (fs::is_regular_file(file, ec)) {
        h.label = "hooks/" + h.hook + ".lua";
        h.source = text::read_file(file);
    } else if (auto code = embedded::find("hooks/" + h.hook + ".lua")) {
        h.label = "builtin:hooks/" + h.hook + ".lua";
        h.source = std::string(*code);
        h.builtin = true;
    } else {
        std::string builtins;
        for (const auto& b : builtin_hooks()) builtins += (builtins.empty() ? "" : ", ") + b;
        throw usage_error(
            where + ": there is no hook \"" + h.hook +
                "\": it is not built in and there is no hooks/" + h.hook + ".lua",
            "built-in hooks: " + builtins + "; or write hooks/" + h.hook + ".lua (docs/hooks.md)");
    }
}

void check_on(hook_config& h, const located& where, const project::config& cfg) {
    if (h.events)
        throw usage_error(
            where.at(cfg, "on") + ": [notify." + h.name + "] has both `events` and `on`",
            "keep one: `on` names runs (outcomes, applied, reverted, rollback, "
            "failure, always) and events; `events` names events only");
    h.events_line = where.over && where.over->lines.count("on")   ? where.over->lines.at("on")
                    : where.base && where.base->lines.count("on") ? where.base->lines.at("on")
                                                                  : 0;
    const auto& conds = run_conditions();
    for (const auto& w : *h.on)
        if (!is_event(w) && std::find(conds.begin(), conds.end(), w) == conds.end()) {
            std::string known;
            for (const auto& c : conds) known += (known.empty() ? "" : ", ") + c;
            throw usage_error(where.at(cfg, "on") + ": unknown run or event \"" + w + "\"",
                              "runs: " + known + "; or an event name (docs/events.md)");
        }
}

}  // namespace

const std::vector<std::string>& run_conditions() {
    static const std::vector<std::string> words = {
        "ok",           "failed",        "rolled_back", "rollback_failed", "refused",
        "check_failed", "verify_failed", "drift",       "interrupted",     "applied",
        "reverted",     "rollback",      "failure",     "always"};
    return words;
}

bool run_meets(const std::string& c, const json& finish) {
    const json& o = finish.contains("outcome") ? finish["outcome"] : json();
    std::string outcome = o.is_string() ? o.get<std::string>() : "";
    const json& counts = finish.contains("counts") ? finish["counts"] : json::object();
    long long applied = counts.value("applied", 0LL), reverted = counts.value("reverted", 0LL);
    if (c == "always") return true;
    if (c == "applied") return applied > 0;
    if (c == "reverted") return reverted > 0;
    if (c == "rollback")
        return reverted > 0 || outcome == "rolled_back" || outcome == "rollback_failed";
    if (c == "failure") return !outcome.empty() && outcome != "ok";
    return c == outcome;
}

bool unchanged_run(const json& finish) {
    const json& counts = finish.contains("counts") ? finish["counts"] : json::object();
    return finish.value("outcome", json("")) == json("ok") && counts.value("applied", 0LL) == 0 &&
           counts.value("reverted", 0LL) == 0 && counts.value("failed", 0LL) == 0;
}

std::vector<hook_config> hooks_for(const project::config& cfg, const project::environment& env) {
    // Every name: sections of the project and of the environment, and files in hooks/.
    std::map<std::string, located> names;
    for (const auto& [name, s] : cfg.notify) names[name].base = &s;
    for (const auto& [name, s] : env.notify) names[name].over = &s;
    fs::path dir = cfg.root / "hooks";
    std::error_code ec;
    if (fs::is_directory(dir, ec))
        for (const auto& entry : fs::directory_iterator(dir, ec))
            if (entry.path().extension() == ".lua" && entry.is_regular_file(ec))
                names[entry.path().stem().string()];

    std::vector<hook_config> out;
    auto vars = project::variables(cfg, env);
    for (auto& [name, where] : names) {
        where.name = name;
        where.env = env.name;
        auto pick = [&](auto member) {
            std::decay_t<decltype(project::notify_section{}.*member)> v{};
            if (where.base) v = where.base->*member;
            if (where.over && (where.over->*member)) v = where.over->*member;
            return v;
        };
        if (!pick(&project::notify_section::enabled).value_or(true)) continue;

        hook_config h;
        h.name = name;
        h.hook = pick(&project::notify_section::hook).value_or(name);
        h.required = pick(&project::notify_section::required).value_or(false);
        h.events = pick(&project::notify_section::events);
        h.where = where.at(cfg, "");
        if (h.events) {
            h.events_line =
                where.over && where.over->lines.count("events")   ? where.over->lines.at("events")
                : where.base && where.base->lines.count("events") ? where.base->lines.at("events")
                                                                  : 0;
            for (const auto& ev : *h.events)
                if (!is_event(ev)) {
                    std::string known;
                    for (const auto& n : event_names()) known += (known.empty() ? "" : ", ") + n;
                    throw usage_error(where.at(cfg, "events") + ": unknown event \"" + ev + "\"",
                                      "events: " + known);
                }
        }

        h.on = pick(&project::notify_section::on);
        h.unchanged = pick(&project::notify_section::unchanged).value_or(false);
        if (h.on) check_on(h, where, cfg);

        find_code(h, dir, where.at(cfg, pick(&project::notify_section::hook) ? "hook" : ""));

        if (!where.base && !where.over) h.where = h.label;  // a file in hooks/ without a section
        json settings = json::object();
        if (where.base) settings = where.base->settings;
        if (where.over)
            for (auto& [k, v] : where.over->settings.items()) settings[k] = v;
        for (auto& [k, v] : settings.items()) {
            v = interpolate(v, vars, where.at(cfg, k));
            if (secret_key(k)) collect_secrets(v, h.secrets);
        }
        h.settings = std::move(settings);
        out.push_back(std::move(h));
    }
    return out;
}

}  // namespace moonshift::notify
