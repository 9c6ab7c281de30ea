// Small text helpers shared by every concern: checksums, UTF-8 validation,
// durations, redaction of secrets.
#pragma once
#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>

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

// Replaces passwords in connection URLs and key=value strings, and the
// values of secret-looking variables, with "***".
std::string redact(std::string_view s);

// True for names like PASSWORD, DB_PASS, API_TOKEN, SLACK_WEBHOOK_URL, SECRET_KEY.
bool is_secret_name(std::string_view name);

std::string trim(std::string_view s);

}  // namespace moonshift::text
