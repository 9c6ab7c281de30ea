// Shared pieces of diff, drift and seed.
#include "cli/compare.hpp"

#include "common/text.hpp"

namespace moonshift::cli {

std::unique_ptr<db::session> connect_environment(const project_env& p) {
    db::settings s;
    s.url = p.url;
    s.lock_timeout = p.env.lock_timeout;
    s.statement_timeout = p.env.statement_timeout;
    try {
        return std::make_unique<db::session>(s);
    } catch (const error& e) {
        throw usage_error("environment \"" + p.env.name + "\": " + text::redact(e.what()),
                          "check its url in moonshift.toml and that the server runs");
    }
}

namespace {

std::string plural(const std::string& object) {
    if (object == "index") return "indexes";
    if (object == "policy") return "policies";
    return object + "s";
}

}  // namespace

void print_changes(printer& out, const std::vector<schema::change>& changes,
                   const std::string& plus_means, const std::string& minus_means) {
    if (changes.empty()) return;
    out.line(out.dim("+ " + plus_means + ", - " + minus_means + ", ~ different"));
    std::string group;
    for (const auto& c : changes) {
        if (c.object != group) {
            group = c.object;
            out.line(out.bold(plural(group)));
        }
        auto text = schema::describe(c);
        if (c.action == "added")
            text = out.green(text);
        else if (c.action == "removed")
            text = out.red(text);
        else
            text = out.yellow(text);
        out.line("  " + text);
    }
}

}  // namespace moonshift::cli
