// [notify.NAME] and [env.NAME.notify.NAME]: hook sections as written, with
// the line of each key; host/notify/ merges and checks them.
#include <sstream>

#include "project/config_reader.hpp"

namespace moonshift::project::detail {

// A hook or trigger setting as JSON; dates and times keep their TOML text.
nlohmann::json json_of(const toml::node& n) {
    if (auto* t = n.as_table()) {
        auto out = nlohmann::json::object();
        for (auto&& [k, v] : *t) out[std::string(k.str())] = json_of(v);
        return out;
    }
    if (auto* a = n.as_array()) {
        auto out = nlohmann::json::array();
        for (auto&& v : *a) out.push_back(json_of(v));
        return out;
    }
    if (n.is_string()) return *n.value<std::string>();
    if (n.is_integer()) return *n.value<int64_t>();
    if (n.is_floating_point()) return *n.value<double>();
    if (n.is_boolean()) return *n.value<bool>();
    std::ostringstream text;
    n.visit([&](auto&& v) { text << v; });
    return text.str();
}

// [notify.*] or [env.NAME.notify.*]: a table of hook sections.
void read_notify(const reader& r, const toml::node& n, const std::string& prefix,
                 std::map<std::string, notify_section>& out) {
    auto* t = n.as_table();
    if (!t)
        r.fail(n.source(), "[" + prefix + "] must be a table of hooks",
               "for example [" + prefix + ".slack]");
    for (auto&& [k, v] : *t) {
        std::string name(k.str());
        auto* h = v.as_table();
        if (!h)
            r.fail(
                k.source(),
                "\"" + name + "\" in [" + prefix + "] must be a table: [" + prefix + "." + name +
                    "]",
                "for example [" + prefix + ".slack] with webhook_url = \"${SLACK_WEBHOOK_URL}\"");
        notify_section s;
        s.line = static_cast<int>(k.source().begin.line);
        for (auto&& [hk, hv] : *h) {
            std::string key(hk.str());
            s.lines[key] = static_cast<int>(hk.source().begin.line);
            if (key == "hook")
                s.hook = r.string_of(hv, key);
            else if (key == "enabled")
                s.enabled = r.bool_of(hv, key);
            else if (key == "required")
                s.required = r.bool_of(hv, key);
            else if (key == "events")
                s.events = r.strings_of(hv, key);
            else if (key == "on")
                s.on = r.strings_of(hv, key);
            else if (key == "unchanged")
                s.unchanged = r.bool_of(hv, key);
            else
                s.settings[key] = json_of(hv);
        }
        out[name] = std::move(s);
    }
}

}  // namespace moonshift::project::detail
