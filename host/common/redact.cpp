// Redaction: the one place that decides what text is secret. A single left-to-right scan
// (no regular expressions: std::regex recurses per character and overflowed the stack on a
// 40 kB word), so a message of any size is redacted in time proportional to its length.
#include <algorithm>
#include <cctype>
#include <mutex>
#include <vector>

#include "common/text.hpp"

namespace moonshift::text {
namespace {

struct span {
    std::size_t from, to;  // [from, to) is replaced by ***
};

bool is_blank(char c) { return static_cast<unsigned char>(c) <= ' ' || c == 0x7f; }

bool is_word(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
           c == '+';
}

std::string lowered(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool ends_with_word(const std::string& w, const char* word) {
    std::string_view t(word);
    if (w == t) return true;
    if (w.size() <= t.size() || w.compare(w.size() - t.size(), t.size(), t) != 0) return false;
    char before = w[w.size() - t.size() - 1];
    return before == '_' || before == '-' || before == '.';
}

// A key whose value is a secret (docs/configuration.md, "What is secret"): any spelling of
// password (passwd, passwrd, pasword, passwort, sslpassword, db_password, ...), pwd, pw, pass,
// passphrase, secret, token, api keys, credentials.
bool secret_keyword(std::string_view word) {
    if (word.size() < 2 || word.size() > 64) return false;
    std::string w = lowered(word);
    for (const char* part : {"passw", "pasw", "passo", "passph", "pwd", "secret", "token", "apikey",
                             "api_key", "api-key", "private_key", "access_key", "credential"})
        if (w.find(part) != std::string::npos) return true;
    for (const char* word_end : {"pass", "pw", "pword", "pwrd"})
        if (ends_with_word(w, word_end)) return true;
    return false;
}

// A URL scheme: a letter, then letters, digits, + . -
bool scheme_like(std::string_view w) {
    if (w.empty() || !std::isalpha(static_cast<unsigned char>(w[0]))) return false;
    return std::all_of(w.begin(), w.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '.' || c == '-';
    });
}

// One scan of the text. Every search forward starts past the previous one's end (URL
// starts only move right), so the whole scan is linear.
class scanner {
  public:
    explicit scanner(std::string_view s) : s_(s) {}

    std::vector<span> run() {
        std::size_t i = 0;
        while (i < s_.size()) {
            if (!is_word(s_[i]) || (i > 0 && is_word(s_[i - 1]))) {
                ++i;
                continue;
            }
            std::size_t k = i;
            while (k < s_.size() && is_word(s_[k])) ++k;
            std::string_view word = s_.substr(i, k - i);
            std::size_t next = k;
            if (scheme_like(word)) next = url_at(word, k);
            if (next == k && secret_keyword(word)) next = keyword_value(i, k);
            i = std::max(next, k);
        }
        return std::move(spans_);
    }

  private:
    // After a scheme ending at k: scheme://, scheme:/ and scheme// (the typos libpq rejects
    // with a message quoting the whole string). Returns where the scan goes on: past the
    // password's '@' when one was hidden, else k.
    std::size_t url_at(std::string_view scheme, std::size_t k) {
        std::size_t p = k < s_.size() && s_[k] == ':' ? k + 1 : k;
        std::size_t slashes = 0;
        while (p + slashes < s_.size() && s_[p + slashes] == '/') ++slashes;
        if (slashes == 0 || (p == k && slashes < 2)) return k;
        std::size_t j = p + slashes;
        if (lowered(scheme) == "https" && s_.substr(j).rfind("hooks.slack.com/services/", 0) == 0) {
            std::size_t from = j + 25, to = from;
            while (to < s_.size() && !is_blank(s_[to]) && s_[to] != '"' && s_[to] != '\'') ++to;
            if (to > from) spans_.push_back({from, to});
            return to;
        }
        token_from(j);
        if (last_at_ == npos || last_at_ < j) return k;
        std::size_t colon = colon_from(j);
        if (colon >= last_at_ || colon + 1 == last_at_) return k;
        spans_.push_back({colon + 1, last_at_});
        return last_at_;
    }

    // The token (up to blank space or a double quote, which ends a quoted URL in messages and
    // JSON) holding j, and its last '@': a password may itself hold a raw '@', so the host
    // starts after the last one.
    void token_from(std::size_t j) {
        if (j < token_end_) return;
        last_at_ = npos;
        std::size_t e = j;
        for (; e < s_.size() && !is_blank(s_[e]) && s_[e] != '"'; ++e)
            if (s_[e] == '@') last_at_ = e;
        token_end_ = std::max(e, j + 1);
    }

    // The first ':' at or after j.
    std::size_t colon_from(std::size_t j) {
        if (colon_known_ && colon_ >= j) return colon_;
        std::size_t c = j;
        while (c < s_.size() && s_[c] != ':') ++c;
        colon_known_ = true;
        colon_ = c;
        return c;
    }

    // `key=value`, `key = 'va lue'`, `"key": "value"`, `key=>value`: hides the value. A value
    // in a URL's query (after ? or &) ends at the next &; in a keyword string at blank space
    // (`password=ab&cd host=x` hides ab&cd).
    std::size_t keyword_value(std::size_t from, std::size_t k) {
        bool in_query = from > 0 && (s_[from - 1] == '?' || s_[from - 1] == '&');
        std::size_t p = k;
        if (p < s_.size() && (s_[p] == '"' || s_[p] == '\'')) ++p;
        while (p < s_.size() && (s_[p] == ' ' || s_[p] == '\t')) ++p;
        if (p >= s_.size() || (s_[p] != '=' && s_[p] != ':')) return k;
        if (s_[p] == ':' && p + 1 < s_.size() && s_[p + 1] == ':') return k;  // a ::cast
        ++p;
        if (p < s_.size() && (s_[p] == '>' || (s_[p - 1] == ':' && s_[p] == '='))) ++p;
        while (p < s_.size() && (s_[p] == ' ' || s_[p] == '\t')) ++p;
        if (p >= s_.size()) return k;
        if (s_[p] == '\'' || s_[p] == '"') {
            char quote = s_[p];
            std::size_t e = p + 1;
            while (e < s_.size() && s_[e] != quote && s_[e] != '\n') e += s_[e] == '\\' ? 2 : 1;
            e = std::min(e, s_.size());
            if (e > p + 1) spans_.push_back({p + 1, e});
            return e;
        }
        std::size_t e = p;
        while (e < s_.size() && !is_blank(s_[e]) && s_[e] != '"' && !(in_query && s_[e] == '&'))
            ++e;
        if (e > p) spans_.push_back({p, e});
        return e;
    }

    static constexpr std::size_t npos = std::string_view::npos;
    std::string_view s_;
    std::vector<span> spans_;
    std::size_t token_end_ = 0, last_at_ = npos, colon_ = 0;
    bool colon_known_ = false;
};

std::string percent_decoded(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() &&
            std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out.push_back(
                static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

std::mutex registry_mutex;
std::vector<std::string>& registry() {
    static std::vector<std::string> values;  // longest first
    return values;
}

// Every occurrence of each value (longest first, so one holding another is hidden whole)
// becomes ***, in one pass per value.
std::string hide_values(std::string text, std::vector<std::string> values) {
    std::sort(values.begin(), values.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    for (const auto& v : values) {
        if (v.size() < 3) continue;
        std::size_t at = text.find(v);
        if (at == std::string::npos) continue;
        std::string out;
        out.reserve(text.size());
        std::size_t done = 0;
        for (; at != std::string::npos; at = text.find(v, done)) {
            out.append(text, done, at - done).append("***");
            done = at + v.size();
        }
        out.append(text, done, std::string::npos);
        text = std::move(out);
    }
    return text;
}

}  // namespace

bool is_secret_name(std::string_view name) {
    std::string up;
    for (char c : name)
        up.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    for (const char* w :
         {"PASS", "PSWD", "PWD", "SECRET", "TOKEN", "KEY", "WEBHOOK", "CREDENTIAL", "AUTH"})
        if (up.find(w) != std::string::npos) return true;
    if (up == "PW" || up.rfind("PW_", 0) == 0 ||
        (up.size() > 3 && up.compare(up.size() - 3, 3, "_PW") == 0))
        return true;
    return up.find("DATABASE_URL") != std::string::npos;
}

void add_secret(std::string_view value) {
    if (value.size() < 3) return;
    std::lock_guard<std::mutex> lock(registry_mutex);
    auto& values = registry();
    for (std::string v : {std::string(value), percent_decoded(value)})
        if (std::find(values.begin(), values.end(), v) == values.end())
            values.push_back(std::move(v));
}

std::vector<std::pair<std::size_t, std::size_t>> secret_spans(std::string_view s) {
    std::vector<std::pair<std::size_t, std::size_t>> out;
    for (const auto& sp : scanner(s).run()) out.emplace_back(sp.from, sp.to);
    return out;
}

void add_secrets_in(std::string_view connection) {
    for (const auto& sp : scanner(connection).run()) {
        std::string_view secret = connection.substr(sp.from, sp.to - sp.from);
        add_secret(secret);
        // A raw '@' in a URL's password: libpq ends the password at the first one and shows
        // the rest as part of the host name.
        for (auto at = secret.find('@'); at != std::string_view::npos;
             at = secret.find('@', at + 1))
            add_secret(secret.substr(at + 1));
    }
}

std::string redact(std::string_view s, const std::vector<std::string>& extra) {
    std::vector<std::string> values = extra;
    {
        std::lock_guard<std::mutex> lock(registry_mutex);
        values.insert(values.end(), registry().begin(), registry().end());
    }
    std::string text = hide_values(std::string(s), std::move(values));
    std::string out;
    out.reserve(text.size());
    std::size_t done = 0;
    for (const auto& sp : scanner(text).run()) {
        out.append(text, done, sp.from - done).append("***");
        done = sp.to;
    }
    out.append(text, done, std::string::npos);
    return out;
}

std::string redact(std::string_view s) { return redact(s, {}); }

}  // namespace moonshift::text
