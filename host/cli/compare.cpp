// Shared pieces of diff, drift and seed.
#include "cli/compare.hpp"

#include "common/text.hpp"

namespace moonshift::cli {

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
