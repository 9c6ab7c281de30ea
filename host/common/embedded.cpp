// Look-ups in the generated table of embedded files.
#include "common/embedded.hpp"

namespace moonshift::embedded {

std::optional<std::string_view> find(std::string_view path) {
    for (const file* f = all(); f->path; ++f)
        if (path == f->path) return f->content;
    return std::nullopt;
}

std::vector<file> under(std::string_view prefix) {
    std::vector<file> out;
    for (const file* f = all(); f->path; ++f)
        if (std::string_view(f->path).substr(0, prefix.size()) == prefix) out.push_back(*f);
    return out;
}

}  // namespace moonshift::embedded
