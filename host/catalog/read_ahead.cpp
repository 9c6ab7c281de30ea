// Migration files read ahead of their reader: by format detection (which
// reads content to decide), and on two threads for a large folder
// (formats.hpp: read_all_ahead); read_checked takes each once.
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "catalog/formats.hpp"
#include "common/error.hpp"
#include "common/text.hpp"

namespace moonshift::catalog {
namespace fs = std::filesystem;

// Shared with the readers of other formats (formats.hpp). Per thread: a
// command may read the folder on a second thread while it connects.
namespace {
std::map<std::string, std::string>& read_ahead() {
    static thread_local std::map<std::string, std::string> files;
    return files;
}

void read_each(const std::vector<const fs::directory_entry*>& files,
               std::vector<std::optional<std::string>>& contents, std::size_t from,
               std::size_t to) {
    for (auto i = from; i < to; ++i) {
        try {
            contents[i] = text::read_file(files[i]->path());
        } catch (const std::exception&) {
            contents[i].reset();  // the reader reads it again and reports why it cannot
        }
    }
}
}  // namespace

void remember_content(const fs::path& p, std::string content) {
    read_ahead()[p.string()] = std::move(content);
}

const std::string* read_ahead_of(const fs::path& p) {
    auto& cache = read_ahead();
    auto it = cache.find(p.string());
    return it == cache.end() ? nullptr : &it->second;
}

void read_all_ahead(const std::vector<fs::directory_entry>& entries) {
    std::vector<const fs::directory_entry*> files;
    for (const auto& e : entries) {
        const auto name = name_of(e);
        const auto dot = name.rfind('.');
        const auto ext = dot == std::string_view::npos ? std::string_view() : name.substr(dot);
        std::error_code ec;
        if (name.empty() || name[0] == '.' || (ext != ".sql" && ext != ".lua") ||
            !e.is_regular_file(ec) || read_ahead().count(e.path().string()))
            continue;
        files.push_back(&e);
    }
    std::vector<std::optional<std::string>> contents(files.size());
    // Two threads from a few dozen files on: opening and reading thousands of
    // small files is most of reading a history.
    std::size_t mine = files.size() < 64 ? files.size() : files.size() / 2;
    std::thread other;
    if (mine < files.size()) {
        try {
            other =
                std::thread(read_each, std::cref(files), std::ref(contents), mine, files.size());
        } catch (const std::system_error&) {
            mine = files.size();
        }
    }
    read_each(files, contents, 0, mine);
    if (other.joinable()) other.join();
    auto& cache = read_ahead();
    for (std::size_t i = 0; i < files.size(); ++i)
        if (contents[i]) cache.emplace(files[i]->path().string(), std::move(*contents[i]));
}

void forget_read_ahead() { read_ahead().clear(); }

std::string read_checked(const fs::path& p, const std::string& label) {
    // Format detection may have read it already (dbmate's markers).
    std::string raw;
    auto& cache = read_ahead();
    if (auto it = cache.find(p.string()); it != cache.end()) {
        raw = std::move(it->second);
        cache.erase(it);
    } else {
        raw = text::read_file(p);
    }
    if (auto bad = text::invalid_utf8_at(raw); bad != std::string::npos) {
        auto pos = text::position_of(raw, bad);
        throw usage_error(label + ":" + std::to_string(pos.line) + ":" +
                              std::to_string(pos.column) + ": invalid UTF-8 (byte offset " +
                              std::to_string(bad) + ")",
                          "save the file as UTF-8");
    }
    if (raw.size() >= 3 && raw.compare(0, 3, "\xEF\xBB\xBF") == 0) raw.erase(0, 3);  // BOM
    return text::normalize_newlines(raw);
}

}  // namespace moonshift::catalog
