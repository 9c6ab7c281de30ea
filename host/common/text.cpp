// Small text helpers shared by every concern.
#include "common/text.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/error.hpp"

namespace moonshift::text {

std::string sha256_hex(std::string_view bytes) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr))
        throw std::runtime_error("SHA-256 failed");
    static const char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2);
    for (unsigned i = 0; i < len; ++i) {
        out.push_back(hex[digest[i] >> 4]);
        out.push_back(hex[digest[i] & 15]);
    }
    return out;
}

std::string normalize_newlines(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (bytes[i] == '\r') {
            out.push_back('\n');
            if (i + 1 < bytes.size() && bytes[i + 1] == '\n') ++i;
        } else {
            out.push_back(bytes[i]);
        }
    }
    return out;
}

std::size_t invalid_utf8_at(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        int extra;
        unsigned min;
        if (c < 0x80) {
            ++i;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            extra = 1;
            min = 0x80;
            c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2;
            min = 0x800;
            c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3;
            min = 0x10000;
            c &= 0x07;
        } else
            return i;
        if (i + extra >= s.size()) return i;
        unsigned cp = c;
        for (int k = 1; k <= extra; ++k) {
            unsigned char cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        i += extra + 1;
    }
    return std::string_view::npos;
}

std::string read_file(const std::filesystem::path& path) {
    // open, fstat, one read of the whole file, close: a history's thousands
    // of small files are read on every command.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw error(exit_code::usage, "cannot read " + path.string());
    struct ::stat st {};
    const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    std::string out;
    std::size_t want = regular ? static_cast<std::size_t>(st.st_size) + 1 : 65536;
    for (;;) {
        auto at = out.size();
        out.resize(at + want);
        auto n = ::read(fd, out.data() + at, want);
        if (n < 0 && errno == EINTR) {
            out.resize(at);
            continue;
        }
        if (n < 0) {
            ::close(fd);
            throw error(exit_code::usage,
                        "cannot read " + path.string() + ": " + std::strerror(errno));
        }
        out.resize(at + static_cast<std::size_t>(n));
        // A regular file read short of what was asked is at its end.
        if (n == 0 || (regular && static_cast<std::size_t>(n) < want)) break;
        want = 65536;
    }
    ::close(fd);
    return out;
}

position position_of(std::string_view text, std::size_t offset) {
    position p;
    if (offset > text.size()) offset = text.size();
    for (std::size_t i = 0; i < offset; ++i) {
        if (text[i] == '\n') {
            ++p.line;
            p.column = 1;
        } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
            ++p.column;  // count characters, not UTF-8 continuation bytes
        }
    }
    return p;
}

std::size_t char_to_byte_offset(std::string_view text, std::size_t chars) {
    std::size_t i = 0;
    while (i < text.size() && chars > 0) {
        ++i;
        while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
        --chars;
    }
    return i;
}

std::string_view line_at(std::string_view text, int line) {
    std::size_t start = 0;
    for (int l = 1; l < line; ++l) {
        auto nl = text.find('\n', start);
        if (nl == std::string_view::npos) return {};
        start = nl + 1;
    }
    auto end = text.find('\n', start);
    return text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
}

std::chrono::milliseconds parse_duration(std::string_view s) {
    std::string t = trim(s);
    if (t.empty()) throw std::invalid_argument("empty duration");
    std::size_t i = 0;
    while (i < t.size() && (std::isdigit(static_cast<unsigned char>(t[i])) || t[i] == '.')) ++i;
    if (i == 0) throw std::invalid_argument("a duration starts with a number, like 5s or 250ms");
    double value = std::stod(t.substr(0, i));
    std::string unit = trim(t.substr(i));
    double factor;
    if (unit.empty() || unit == "s")
        factor = 1000;
    else if (unit == "ms")
        factor = 1;
    else if (unit == "min" || unit == "m")
        factor = 60000;
    else if (unit == "h")
        factor = 3600000;
    else
        throw std::invalid_argument("unknown unit \"" + unit + "\" (use ms, s, min or h)");
    return std::chrono::milliseconds(static_cast<long long>(value * factor));
}

std::string format_duration(std::chrono::milliseconds ms) {
    auto n = ms.count();
    if (n < 1000) return std::to_string(n) + " ms";
    char buf[32];
    if (n < 60000) {
        std::snprintf(buf, sizeof buf, "%.2f s", n / 1000.0);
    } else {
        std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(n / 60000),
                      static_cast<long long>((n % 60000) / 1000));
    }
    return buf;
}

std::string trim(std::string_view s) {
    std::size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return std::string(s.substr(b, e - b));
}

}  // namespace moonshift::text
