// Small text helpers shared by every concern: checksums, UTF-8 validation,
// durations, redaction of secrets.
#pragma once
#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace moonshift::text {

// Hex SHA-256 of the bytes.
std::string sha256_hex(std::string_view bytes);

// CRLF and lone CR become LF, so a checkout on Windows has the same checksum.
std::string normalize_newlines(std::string_view bytes);

// Byte offset of the first invalid UTF-8 sequence, or npos when valid.
std::size_t invalid_utf8_at(std::string_view bytes);

// Whole file as bytes; throws moonshift::error naming the file.
std::string read_file(const std::filesystem::path& path);

// 1-based line and column of a byte offset.
struct position {
    int line = 1;
    int column = 1;
};
position position_of(std::string_view text, std::size_t offset);

// Byte offset of the `chars`-th character (0-based) of UTF-8 text; PostgreSQL
// reports error positions in characters.
std::size_t char_to_byte_offset(std::string_view text, std::size_t chars);

// The line (1-based) of text, without its newline.
std::string_view line_at(std::string_view text, int line);

// "5s", "250ms", "2min", "1h", "30" (seconds). Throws std::invalid_argument.
std::chrono::milliseconds parse_duration(std::string_view s);
std::string format_duration(std::chrono::milliseconds ms);

// Replaces every secret in s with "***", in time linear in its length (docs/configuration.md,
// "What is secret"): the password of URL-like text (scheme://user:pw@host, and the typos
// scheme:/user:pw@host and scheme//user:pw@host; the host starts after the last '@'), the
// value after a secret keyword (password=, passwd=, passwrd=, pwd=, pw=, token=, secret=,
// "password": "…", password = '…'), a Slack webhook's path, and every value registered with
// add_secret (and `extra`, a caller's own secrets).
std::string redact(std::string_view s);
std::string redact(std::string_view s, const std::vector<std::string>& extra);

// The [from, to) ranges of s that redact() hides by their form (not the registered values).
std::vector<std::pair<std::size_t, std::size_t>> secret_spans(std::string_view s);

// Registers a value that every later redact() in this process hides (as written and
// percent-decoded). Values shorter than 3 characters are ignored: hiding them would mangle
// messages and protect nothing.
void add_secret(std::string_view value);
// Registers the parts of a connection string or URL that redact() hides, so that a piece of
// one quoted alone (libpq's `invalid percent-encoded token: "…"`) is hidden too.
void add_secrets_in(std::string_view connection);

// True for names whose values are secret: containing PASS, PWD, PSWD, SECRET, TOKEN, KEY,
// WEBHOOK, CREDENTIAL, AUTH or DATABASE_URL, and PW, PW_*, *_PW.
bool is_secret_name(std::string_view name);

std::string trim(std::string_view s);

}  // namespace moonshift::text
