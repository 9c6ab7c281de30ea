// ${VAR} interpolation and .env files: the project's .env, an environment's
// own dotenv file, and the process environment over both.
#include <cstdlib>
#include <fstream>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "common/text.hpp"
#include "project/config_reader.hpp"

namespace moonshift::project {

std::map<std::string, std::string> detail::project_vars(const std::filesystem::path& root,
                                                        const std::string& extra_dotenv) {
    std::map<std::string, std::string> vars;
    if (std::filesystem::exists(root / ".env")) vars = read_dotenv(root / ".env");
    if (!extra_dotenv.empty()) {
        auto p = root / extra_dotenv;
        if (!std::filesystem::exists(p))
            throw usage_error("dotenv file " + p.string() + " does not exist",
                              "create it or remove `dotenv` from the environment");
        for (auto& [k, v] : read_dotenv(p)) vars[k] = v;
    }
    for (const auto& [k, v] : vars)
        if (text::is_secret_name(k)) text::add_secret(v);
    return vars;
}

std::map<std::string, std::string> variables(const config& cfg) {
    return detail::project_vars(cfg.root, "");
}

std::map<std::string, std::string> variables(const config& cfg, const environment& env) {
    return detail::project_vars(cfg.root, env.dotenv);
}

std::map<std::string, std::string> read_dotenv(const std::filesystem::path& file) {
    std::map<std::string, std::string> out;
    std::ifstream in(file);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        ++n;
        std::string t = text::trim(line);
        if (t.empty() || t[0] == '#') continue;
        if (t.rfind("export ", 0) == 0) t = text::trim(t.substr(7));
        auto eq = t.find('=');
        if (eq == std::string::npos || eq == 0)
            throw usage_error(file.string() + ":" + std::to_string(n) + ": expected KEY=VALUE",
                              "comment the line out with # if it is not a variable");
        std::string key = text::trim(t.substr(0, eq));
        std::string value = text::trim(t.substr(eq + 1));
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
            value.back() == value.front())
            value = value.substr(1, value.size() - 2);
        else if (auto hash = value.find(" #"); hash != std::string::npos)
            value = text::trim(value.substr(0, hash));
        out[key] = value;
    }
    return out;
}

namespace {

// The URL's password (and other secret values) is a secret, and so is every variable that
// makes up part of it: a libpq message may quote one piece alone.
void remember_url_secrets(const std::string& url,
                          const std::vector<std::pair<std::size_t, std::size_t>>& pieces) {
    text::add_secrets_in(url);
    for (auto [from, to] : text::secret_spans(url))
        for (auto [start, end] : pieces)
            if (start < to && from < end) text::add_secret(url.substr(start, end - start));
}

}  // namespace

std::string interpolate(const std::string& value, const std::map<std::string, std::string>& vars,
                        const std::string& where, bool url) {
    std::string out;
    std::vector<std::pair<std::size_t, std::size_t>> pieces;  // where each variable went
    std::size_t i = 0;
    while (i < value.size()) {
        if (value.compare(i, 2, "${") != 0) {
            out.push_back(value[i++]);
            continue;
        }
        auto close = value.find('}', i);
        if (close == std::string::npos)
            throw usage_error(where + ": unterminated ${ in a value", "write ${NAME}");
        std::string body = value.substr(i + 2, close - i - 2);
        std::string name = body, fallback;
        bool has_fallback = false;
        if (auto d = body.find(":-"); d != std::string::npos) {
            name = body.substr(0, d);
            fallback = body.substr(d + 2);
            has_fallback = true;
        }
        // The process environment wins over .env files, as in dotenv tools.
        std::string put;
        if (const char* env = std::getenv(name.c_str()); env && *env)
            put = env;
        else if (auto it = vars.find(name); it != vars.end())
            put = it->second;
        else if (has_fallback)
            put = fallback;
        else
            throw usage_error(where + ": variable " + name + " is not set",
                              "export " + name + " or add it to .env");
        if (text::is_secret_name(name)) text::add_secret(put);
        pieces.push_back({out.size(), out.size() + put.size()});
        out += put;
        i = close + 1;
    }
    if (url) remember_url_secrets(out, pieces);
    return out;
}

}  // namespace moonshift::project
