// The command line's own manners: `moonshift help CMD`, the global options at the foot of
// every command's --help, and parse errors that suggest what was meant ("did you mean
// status?") without ever repeating a value the user typed (it may hold a password).
#include <algorithm>
#include <cstdio>

#include "cli/common.hpp"
#include "common/text.hpp"

namespace moonshift::cli {
namespace {

// Optimal string alignment distance: a swapped pair of letters ("stauts") counts once.
std::size_t distance(const std::string& a, const std::string& b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i)
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    return d[a.size()][b.size()];
}

// The options an app takes, as typed: "--env", "-e".
std::vector<std::string> option_words(const CLI::App* app) {
    std::vector<std::string> out;
    for (const auto* opt : app->get_options()) {
        for (auto& l : opt->get_lnames()) out.push_back("--" + l);
        for (auto& s : opt->get_snames()) out.push_back("-" + s);
    }
    return out;
}

// Global options that take a value: the word after them is not the command.
bool takes_value(const CLI::App& app, const std::string& word) {
    if (word.find('=') != std::string::npos) return false;
    for (const auto* opt : app.get_options())
        if (opt->get_expected_max() != 0 && opt->check_name(word)) return true;
    return false;
}

struct typed {
    std::string command;               // the first word that is not an option ("" if none)
    CLI::App* sub = nullptr;           // the command it names, if it does
    CLI::App* nested = nullptr;        // the subcommand `second` names, if it does
    std::string second;                // the word after it (a subcommand: backup restore)
    std::vector<std::string> unknown;  // options neither the command nor the app know
};

std::vector<std::string> names_of(CLI::App* app) {
    std::vector<std::string> out;
    for (auto* sub : app->get_subcommands({}))
        if (!sub->get_name().empty()) out.push_back(sub->get_name());
    return out;
}

typed read_words(CLI::App& app, int argc, char** argv) {
    typed t;
    for (int i = 1; i < argc; ++i) {
        std::string w = argv[i];
        if (w == "--") break;
        if (w.size() > 1 && w[0] == '-') {
            std::string name = w.substr(0, w.find('='));
            bool known = false;
            for (const CLI::App* a :
                 {static_cast<const CLI::App*>(&app), static_cast<const CLI::App*>(t.sub),
                  static_cast<const CLI::App*>(t.nested)})
                for (auto& o : a ? option_words(a) : std::vector<std::string>{})
                    known = known || o == name;
            if (!known && name.rfind("--", 0) == 0) t.unknown.push_back(name);
            if (!known && name.rfind("--", 0) != 0 && name.size() == 2) t.unknown.push_back(name);
            if (takes_value(app, w)) ++i;  // a global option's value is no command
            continue;
        }
        if (!t.command.empty() && t.second.empty()) {
            t.second = w;
            for (auto* sub : t.sub ? t.sub->get_subcommands({}) : std::vector<CLI::App*>{})
                if (sub->get_name() == w) t.nested = sub;
            continue;
        }
        if (t.command.empty()) {
            t.command = w;
            try {
                t.sub = app.get_subcommand(w);
            } catch (const CLI::OptionNotFound&) {
                t.sub = nullptr;
            }
        }
    }
    return t;
}

int fail(const std::string& message, const std::string& hint) {
    std::fprintf(stderr, "error: %s\n", text::redact(message).c_str());
    if (!hint.empty()) std::fprintf(stderr, "hint: %s\n", text::redact(hint).c_str());
    return static_cast<int>(exit_code::usage);
}

}  // namespace

std::string closest(const std::string& word, const std::vector<std::string>& candidates) {
    std::string best;
    std::size_t best_d = std::string::npos;
    auto bare = [](const std::string& s) { return s.substr(s.find_first_not_of('-')); };
    for (auto& c : candidates) {
        std::size_t d = distance(word, c);
        // "--db-url" for "--url": the known word inside the typed one counts as close.
        std::string w = bare(word), k = bare(c);
        bool inside = k.size() >= 3 && (w.find(k) != std::string::npos || k.find(w) == 0);
        std::size_t limit = std::max<std::size_t>(1, std::min<std::size_t>(3, w.size() / 3));
        if ((d <= limit || inside) && (inside ? 0 : d) < best_d) {
            best = c;
            best_d = inside ? 0 : d;
        }
    }
    return best;
}

void add_global_footer(CLI::App& app) {
    std::string text = "Global options (before or after the command):\n";
    for (const auto* opt : app.get_options()) {
        std::string names = opt->get_name(false, true);
        if (names.empty() || opt->get_group() != "Options") continue;
        if (opt->check_lname("help") || opt->check_lname("version")) continue;  // listed above
        if (opt->get_expected_max() != 0) names += " " + opt->get_type_name();
        if (names.size() < 28) names.resize(28, ' ');
        text += "  " + names + " " + opt->get_description();
        if (!opt->get_envname().empty()) text += " (" + opt->get_envname() + ")";
        text += "\n";
    }
    std::function<void(CLI::App*)> walk = [&](CLI::App* a) {
        for (auto* sub : a->get_subcommands({})) {
            sub->footer(text);
            walk(sub);
        }
    };
    walk(&app);
}

void register_help(CLI::App& app, command_fn& run) {
    auto* cmd = app.add_subcommand("help", "help on a command: moonshift help up");
    auto words = std::make_shared<std::vector<std::string>>();
    cmd->add_option("COMMAND", *words, "the command (and its subcommand: backup restore)");
    cmd->callback([&app, &run, words] {
        run = [&app, words] {
            CLI::App* at = &app;
            for (auto& w : *words) {
                CLI::App* next = nullptr;
                std::vector<std::string> names;
                for (auto* sub : at->get_subcommands({})) {
                    if (sub->get_name() == w) next = sub;
                    if (!sub->get_name().empty()) names.push_back(sub->get_name());
                }
                if (!next) {
                    std::string guess = closest(w, names);
                    throw usage_error("no command \"" + w + "\"",
                                      guess.empty() ? "`moonshift help` lists the commands"
                                                    : "did you mean " + guess + "?");
                }
                at = next;
            }
            std::fputs(at->help().c_str(), stdout);
            return 0;
        };
    });
}

int parse_failure(CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
    typed t = read_words(app, argc, argv);
    std::vector<std::string> commands = names_of(&app);
    if (!t.unknown.empty()) {
        auto words = option_words(&app);
        for (CLI::App* a : {t.sub, t.nested})
            for (auto& w : a ? option_words(a) : std::vector<std::string>{}) words.push_back(w);
        // Only the option's name: its value may be a URL with a password in it.
        std::string guess = closest(t.unknown.front(), words);
        std::string help = t.sub ? "moonshift help " + t.sub->get_name() : "moonshift help";
        return fail("unknown option " + t.unknown.front(),
                    guess.empty()
                        ? "`" + help + "` lists the options"
                        : "did you mean " + guess + "? (`" + help + "` lists the options)");
    }
    if (!t.command.empty() && !t.sub) {
        std::string guess = closest(t.command, commands);
        return fail(
            "unknown command \"" + t.command + "\"",
            guess.empty() ? "`moonshift help` lists the commands" : "did you mean " + guess + "?");
    }
    if (auto subs = t.sub ? names_of(t.sub) : std::vector<std::string>{}; !subs.empty()) {
        std::string all;
        for (auto& n : subs) all += (all.empty() ? "" : ", ") + n;
        // testdb runs without one (its subcommands are optional): its own error follows.
        if (t.second.empty() && t.sub->get_require_subcommand_min() > 0)
            return fail(t.command + " needs a subcommand: " + all,
                        "`moonshift help " + t.command + "` shows them");
        if (!t.second.empty() && std::find(subs.begin(), subs.end(), t.second) == subs.end()) {
            std::string guess = closest(t.second, subs);
            return fail("unknown command \"" + t.command + " " + t.second + "\"",
                        guess.empty() ? t.command + " takes " + all
                                      : "did you mean " + t.command + " " + guess + "?");
        }
    }
    if (t.command.empty())
        return fail("a command is required", "`moonshift help` lists the commands");
    // CLI11's own message may quote what was typed: redacted on its way out.
    return fail(e.what(), "`moonshift help " + t.command + "` shows its usage");
}

}  // namespace moonshift::cli
