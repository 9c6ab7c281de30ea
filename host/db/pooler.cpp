// Whether a connection goes through a transaction-mode pooler (PgBouncer's
// pool_mode = transaction, Supabase's pooler on port 6543): there the
// server connection under a client changes between transactions, so a
// session setting, a session advisory lock or a named prepared statement
// does not last. Detected once per connection string (docs/poolers.md).
#include "db/pooler.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "common/text.hpp"
#include "db/pq.hpp"
#include "db/pq_lazy.hpp"

namespace moonshift::db {
namespace {

std::string scalar(PGconn* c, const char* sql) {
    pq::owned_result r(PQexec(c, sql));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) < 1 ||
        PQgetisnull(r.get(), 0, 0))
        return "";
    return PQgetvalue(r.get(), 0, 0);
}

bool ends_with(std::string s, const std::string& tail) {
    for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Supabase's pooler: port 6543 is transaction mode, 5432 session mode.
bool supabase_transaction_pooler(PGconn* c) {
    std::string host = PQhost(c) ? PQhost(c) : "";
    std::string port = PQport(c) ? PQport(c) : "";
    return ends_with(host, ".pooler.supabase.com") && port == "6543";
}

// The parent of a process on this machine, 0 when /proc does not say.
long parent_of(const std::string& pid) {
    std::ifstream in("/proc/" + pid + "/stat");
    std::string line;
    if (pid.empty() || !std::getline(in, line)) return 0;
    auto close = line.rfind(')');  // the command name may hold spaces
    std::istringstream rest(close == std::string::npos ? "" : line.substr(close + 1));
    std::string state;
    long ppid = 0;
    rest >> state >> ppid;
    return ppid;
}

// True when nothing stands between this client and its server process: over
// TCP the server sees this socket's own port; over a Unix socket the peer
// (the process that listened: the postmaster) is the backend's parent.
// Anything else (a pooler, a proxy, NAT) is probed.
bool direct(PGconn* c) {
    const int fd = PQsocket(c);
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (fd < 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return false;
    // One round trip: the server process and the port it sees ("pid port"); inet_client_port()
    // reads the connection's own, where pg_stat_activity costs a new server process 5 ms.
    const std::string both =
        scalar(c, "SELECT pg_backend_pid() || ' ' || coalesce(inet_client_port()::text, '')");
    const auto space = both.find(' ');
    const std::string backend = both.substr(0, space);
    const std::string seen = space == std::string::npos ? "" : both.substr(space + 1);
    if (addr.ss_family == AF_UNIX) {
        ucred peer{};
        socklen_t plen = sizeof peer;
        return ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) == 0 && peer.pid > 0 &&
               (std::to_string(peer.pid) == backend || parent_of(backend) == peer.pid);
    }
    int port = 0;
    if (addr.ss_family == AF_INET) port = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    if (addr.ss_family == AF_INET6) port = ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    return port > 0 && seen == std::to_string(port);
}

// The probe: a second client opens a transaction right after this one's
// statement ended. A transaction pooler hands it the server process this
// client just used (or, when it hands it another, gives this client a new
// one for its next statement); a direct or session-mode connection keeps
// its own process in every case.
bool server_changes_between_transactions(PGconn* c, const std::string& conninfo) {
    PGconn* other = PQconnectdb(conninfo.c_str());
    bool changed = false;
    if (PQstatus(other) == CONNECTION_OK) {
        const std::string mine = scalar(c, "SELECT pg_backend_pid()");
        const std::string theirs = scalar(other, "BEGIN;SELECT pg_backend_pid()");
        changed = !mine.empty() && (mine == theirs || scalar(c, "SELECT pg_backend_pid()") != mine);
        pq::command_quietly(other, "ROLLBACK");
    }
    PQfinish(other);
    return changed;
}

}  // namespace

pooler_mode parse_pooler_mode(const std::string& text) {
    if (text == "auto") return pooler_mode::automatic;
    if (text == "transaction") return pooler_mode::transaction;
    if (text == "none") return pooler_mode::none;
    throw usage_error("pooler = \"" + text + "\" is not a pooler mode",
                      "use \"auto\" (detect it), \"transaction\" or \"none\"");
}

std::string detect_pooler(PGconn* c, const std::string& conninfo, pooler_mode mode, bool in_block) {
    if (mode == pooler_mode::none) return "";
    if (mode == pooler_mode::transaction) return "pooler = \"transaction\" says so";
    static std::mutex m;
    static std::map<std::string, std::string> known;  // one probe per process and string
    std::lock_guard<std::mutex> hold(m);
    if (auto it = known.find(conninfo); it != known.end()) return it->second;
    std::string why;
    if (supabase_transaction_pooler(c))
        why = "the host is Supabase's pooler in transaction mode (port 6543)";
    else if (!direct(c)) {
        // Inside a block a pooler keeps its server: the probe would see no change.
        if (in_block)
            return "a middleman stands between client and server, and it was asked inside a "
                   "transaction, where no change of server shows";
        // A change is proof; no change may be chance (another client took the
        // server this one let go), so the probe is tried a few times.
        for (int round = 0; round < 4 && why.empty(); ++round)
            if (server_changes_between_transactions(c, conninfo))
                why = "the server session under this connection changed between two transactions";
    }
    known[conninfo] = why;
    return why;
}

}  // namespace moonshift::db
