// The private local PostgreSQL cluster of one project (`moonshift local start|stop|status|url|
// reset`): initdb on first start, a server that listens on 127.0.0.1 only, password login.
#pragma once
#include <filesystem>
#include <string>

namespace moonshift::local {

struct state {
    bool initialized = false;  // the data directory holds an initialized cluster
    bool running = false;
    int port = 0;                    // while running: the port the server listens on
    int pid = 0;                     // while running: the postmaster's process id
    std::filesystem::path data_dir;  // where the data really lives (see cluster.cpp on /var/lib)
    std::string bin_dir;             // the server binaries used; empty when none were found
    std::string url;  // postgresql://postgres:PASSWORD@127.0.0.1:PORT/<database> while running
};

struct options {
    bool fsync = true;                  // false: fsync, synchronous_commit, full_page_writes off
    std::string database = "postgres";  // database named in url()
};

// Files under root (<project>/.moonshift/local): data/ (the cluster), password (0600), port
// (the last port used, tried first on the next start), server.log, and datadir when the data
// had to be kept elsewhere. Every method may throw moonshift::error.
class cluster {
  public:
    explicit cluster(std::filesystem::path root, options opts = {});

    state start();            // initdb if needed, start if not running; idempotent
    void stop();              // fast shutdown; a no-op when not running
    state status() const;     // never starts or stops anything
    std::string url() const;  // throws a usage error when the cluster is not running
    void reset();             // stop, remove the data, initdb, start (the password is kept)
    void destroy();           // stop and remove everything this cluster wrote, root included

    const std::filesystem::path& root() const { return root_; }

    // The directory with initdb, pg_ctl and postgres: $MOONSHIFT_PG_BINDIR when set (it must
    // have them), else `pg_config --bindir` when it has them, else the highest
    // /usr/lib/postgresql/<version>/bin. Throws a usage error naming the package to install.
    static std::string find_bin_dir();

  private:
    std::filesystem::path data_dir() const;
    std::string bin_dir() const;
    void init();  // the callers hold the root's lock
    void launch();
    void stop_server();

    std::filesystem::path root_;
    options opts_;
    mutable std::string bin_dir_;  // found once per object
};

}  // namespace moonshift::local
