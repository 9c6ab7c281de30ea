// COPY to and from gzip files, and pg_dump.
#include "backup/io.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <memory>

#include "common/error.hpp"
#include "db/quote.hpp"

extern char** environ;

namespace moonshift::backup::io {
namespace {

constexpr std::size_t chunk = 256 * 1024;
// zlib's buffers for a compressed copy (it allocates twice this for writing):
// under malloc's mmap threshold, so that a backup of a small table, before
// every down step, does not map and fault in a megabyte it never fills.
constexpr unsigned gz_buffer = 32 * 1024;

class sha256 {
  public:
    sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
    ~sha256() { EVP_MD_CTX_free(ctx_); }
    sha256(const sha256&) = delete;
    sha256& operator=(const sha256&) = delete;
    void update(const char* p, std::size_t n) { EVP_DigestUpdate(ctx_, p, n); }
    std::string hex() {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        EVP_DigestFinal_ex(ctx_, md, &len);
        static const char* digits = "0123456789abcdef";
        std::string out;
        for (unsigned i = 0; i < len; ++i) {
            out += digits[md[i] >> 4];
            out += digits[md[i] & 15];
        }
        return out;
    }

  private:
    EVP_MD_CTX* ctx_;
};

struct gz_closer {
    void operator()(gzFile f) const noexcept { gzclose(f); }
};
using gz = std::unique_ptr<std::remove_pointer_t<gzFile>, gz_closer>;

}  // namespace

std::string copy_columns(const nlohmann::json& definition) {
    std::string out;
    for (const auto& c : definition.value("columns", nlohmann::json::array())) {
        if (!c.value("generated", "").empty()) continue;
        out += (out.empty() ? "" : ", ") + db::quote::ident(c.value("name", ""));
    }
    return out;
}

copy_stats copy_table_out(db::session& s, const nlohmann::json& definition,
                          const std::string& path) {
    std::string quoted = definition.value("quoted", "");
    std::string columns = copy_columns(definition);
    // A partitioned table has no rows of its own: COPY reads it through a query.
    std::string sql = definition.value("kind", "r") == "p"
                          ? "COPY (SELECT " + columns + " FROM " + quoted + ") TO STDOUT"
                          : "COPY " + quoted + " (" + columns + ") TO STDOUT";
    gz out(gzopen(path.c_str(), "wb3"));
    if (!out) throw error(exit_code::usage, "cannot write " + path + ": " + std::strerror(errno));
    gzbuffer(out.get(), gz_buffer);
    copy_stats st;
    sha256 hash;
    std::string buffer;
    buffer.reserve(chunk + 4096);
    bool write_failed = false;
    try {
        st.rows = s.copy_out(sql, sql, [&](const char* row, std::size_t n) {
            // The row as COPY sent it, newline included: the hash and the
            // file hold exactly the COPY text.
            hash.update(row, n);
            hash.update("\n", 1);
            buffer.append(row, n);
            buffer += '\n';
            if (buffer.size() >= chunk) {
                if (!write_failed &&
                    gzwrite(out.get(), buffer.data(), unsigned(buffer.size())) <= 0)
                    write_failed = true;
                buffer.clear();
            }
        });
    } catch (const db::sql_failure& e) {
        throw error(exit_code::migration_failed, "backup of " + quoted + " failed: " + e.what());
    }
    if (!buffer.empty() && gzwrite(out.get(), buffer.data(), unsigned(buffer.size())) <= 0)
        write_failed = true;
    if (gzclose(out.release()) != Z_OK) write_failed = true;
    if (write_failed) throw error(exit_code::usage, "cannot write " + path + " (disk full?)");
    struct stat info {};
    if (::stat(path.c_str(), &info) == 0) st.bytes = info.st_size;
    st.sha256 = hash.hex();
    return st;
}

long long copy_table_in(db::session& s, const std::string& target, const std::string& columns,
                        const std::string& path, const std::string& expected) {
    gz in(gzopen(path.c_str(), "rb"));
    if (!in) throw error(exit_code::usage, "cannot read " + path + ": " + std::strerror(errno));
    gzbuffer(in.get(), chunk);
    std::string sql = "COPY " + target + " (" + columns + ") FROM STDIN";
    sha256 hash;
    std::string block(chunk, '\0');
    // The file's bytes as they are (COPY takes its text in any slices); a
    // damaged file or other rows than were backed up end the COPY with an
    // error, so the caller's transaction rolls back.
    auto fill = [&](std::string& buffer) {
        int n = gzread(in.get(), block.data(), unsigned(block.size()));
        if (n < 0) {
            int code = 0;
            throw error(exit_code::migration_failed,
                        path + " is damaged: " + gzerror(in.get(), &code));
        }
        if (n == 0) {
            if (!expected.empty() && hash.hex() != expected)
                throw error(exit_code::migration_failed,
                            path + " does not hold the rows that were backed up (SHA-256 differs)");
            return false;
        }
        hash.update(block.data(), std::size_t(n));
        buffer.append(block.data(), std::size_t(n));
        return true;
    };
    try {
        return s.copy_in(sql, sql, fill);
    } catch (const db::sql_failure& e) {
        throw error(exit_code::migration_failed, "restore into " + target + " failed: " + e.what());
    }
}

std::string find_program(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/bin:/bin";
    std::size_t start = 0;
    while (start <= dirs.size()) {
        auto colon = dirs.find(':', start);
        std::string dir =
            dirs.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
        if (!dir.empty()) {
            std::string candidate = dir + "/" + name;
            if (::access(candidate.c_str(), X_OK) == 0) return candidate;
        }
        if (colon == std::string::npos) break;
        start = colon + 1;
    }
    return {};
}

namespace {

void sync_path(const std::filesystem::path& p, bool directory) {
    int fd = ::open(p.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0) ::close(fd);
        throw error(exit_code::usage, "cannot sync " + p.string() + " to disk: " + std::strerror(e),
                    "check the disk under the backups folder ([backup] location)");
    }
    ::close(fd);
}

}  // namespace

void make_durable(const std::filesystem::path& dir, const std::vector<std::string>& files) {
    for (const auto& f : files) sync_path(dir / f, false);
    sync_path(dir, true);
    if (dir.has_parent_path()) sync_path(dir.parent_path(), true);
}

int run_program(const std::string& path, const std::vector<std::string>& args,
                const std::vector<std::pair<std::string, std::string>>& env) {
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(path.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<std::string> env_text;
    for (const auto& [name, value] : env) env_text.push_back(name + "=" + value);
    std::vector<char*> envp;
    for (auto& e : env_text) envp.push_back(e.data());
    for (char** e = environ; *e; ++e) {
        bool replaced = false;
        for (const auto& [name, value] : env)
            replaced = replaced || (std::strncmp(*e, name.c_str(), name.size()) == 0 &&
                                    (*e)[name.size()] == '=');
        if (!replaced) envp.push_back(*e);
    }
    envp.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, path.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return 127;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 1;
}

password_file::password_file(const std::string& password) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/moonshift-pgpass-XXXXXX";
    int fd = ::mkstemp(pattern.data());  // mode 600
    if (fd < 0)
        throw error(exit_code::migration_failed, "cannot create a password file for pg_dump in " +
                                                     pattern.substr(0, pattern.rfind('/')) + ": " +
                                                     std::strerror(errno));
    path_ = pattern;
    // hostname:port:database:username:password, any of each; \ and : escaped.
    std::string line = "*:*:*:*:";
    for (char c : password) {
        if (c == '\\' || c == ':') line += '\\';
        line += c;
    }
    line += "\n";
    bool ok = ::fchmod(fd, 0600) == 0 &&
              ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    ::close(fd);
    if (!ok) {
        ::unlink(path_.c_str());
        throw error(exit_code::migration_failed, "cannot write the password file " + path_);
    }
}

password_file::~password_file() { ::unlink(path_.c_str()); }

}  // namespace moonshift::backup::io
