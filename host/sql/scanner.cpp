// pg_query_scan's tokens, decoded from its protobuf output.
#include "sql/scanner.hpp"

#include <cstdint>

#include "sql/libpg_query.hpp"

namespace moonshift::sql::detail {
namespace {

bool read_varint(const std::uint8_t*& p, const std::uint8_t* end, std::uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 64 && p < end; shift += 7) {
        std::uint8_t byte = *p++;
        value |= std::uint64_t(byte & 0x7F) << shift;
        if ((byte & 0x80) == 0) return true;
    }
    return false;
}

bool skip_field(const std::uint8_t*& p, const std::uint8_t* end, unsigned wire_type) {
    std::uint64_t n = 0;
    switch (wire_type) {
        case 0:
            return read_varint(p, end, n);
        case 1:
            n = 8;
            break;
        case 2:
            if (!read_varint(p, end, n)) return false;
            break;
        case 5:
            n = 4;
            break;
        default:
            return false;
    }
    if (n > std::uint64_t(end - p)) return false;
    p += n;
    return true;
}

}  // namespace

// The protobuf (ScanResult: 2 = repeated ScanToken {1 start, 2 end, 4 token})
// is decoded here because Debian ships libpg_query without protobuf-c headers.
bool scan(const std::string& input, std::vector<token>& tokens, std::size_t* error_offset) {
    tokens.clear();
    scan_result r(pg_query().scan(input.c_str()));
    if (r->error) {
        if (error_offset != nullptr) *error_offset = cursor_offset(input, r->error->cursorpos);
        return false;
    }
    const auto* p = reinterpret_cast<const std::uint8_t*>(r->pbuf.data);
    const auto* end = p + r->pbuf.len;
    while (p < end) {
        std::uint64_t key = 0, length = 0;
        if (!read_varint(p, end, key)) return false;
        if (key != ((2 << 3) | 2)) {
            if (!skip_field(p, end, key & 7)) return false;
            continue;
        }
        if (!read_varint(p, end, length) || length > std::uint64_t(end - p)) return false;
        const auto* message_end = p + length;
        token t;
        while (p < message_end) {
            std::uint64_t field = 0, value = 0;
            if (!read_varint(p, message_end, field)) return false;
            if ((field & 7) != 0) {
                if (!skip_field(p, message_end, field & 7)) return false;
                continue;
            }
            if (!read_varint(p, message_end, value)) return false;
            switch (field >> 3) {
                case 1:
                    t.start = value;
                    break;
                case 2:
                    t.end = value;
                    break;
                case 4:
                    t.kind = int(value);
                    break;
                case 5:
                    t.keyword_kind = int(value);
                    break;
                default:
                    break;
            }
        }
        tokens.push_back(t);
    }
    return true;
}

}  // namespace moonshift::sql::detail
