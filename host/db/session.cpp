// The database session: one connection per run, its timeouts and lock.
#include "db/session.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <functional>
#include <future>
#include <set>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "common/text.hpp"
#include "db/cancel.hpp"
#include "db/hints.hpp"
#include "db/pooler.hpp"
#include "db/pq.hpp"
#include "db/pq_lazy.hpp"
#include "db/quote.hpp"

namespace moonshift::db {
namespace {

// The connection libpqxx makes, in the module moonshift-pq.so (pq_lazy.hpp).
class connection {
  public:
    explicit connection(const std::string& opts) {
        char why[1024] = "";
        c_ = libpq::lib().connect(opts.c_str(), why, sizeof why);
        if (!c_) throw connect_failure(why);
    }
    ~connection() { libpq::lib().close(c_); }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    PGconn* raw() const { return libpq::lib().handle(c_); }

    struct connect_failure : std::runtime_error {
        using std::runtime_error::runtime_error;
    };

  private:
    void* c_ = nullptr;
};

std::string with_defaults(const std::string& url, std::chrono::milliseconds connect_timeout) {
    // application_name identifies us in pg_stat_activity (and in lock reports).
    auto seconds = std::to_string(std::max<long long>(1, connect_timeout.count() / 1000));
    if (url.rfind("postgres://", 0) == 0 || url.rfind("postgresql://", 0) == 0) {
        std::string sep = url.find('?') == std::string::npos ? "?" : "&";
        return url + sep + "application_name=moonshift&connect_timeout=" + seconds;
    }
    std::string extra = "application_name=moonshift connect_timeout=" + seconds;
    return url.empty() ? extra : url + " " + extra;
}

long long lock_key(const std::string& key) {
    // Stable 63-bit key from the schema name; hashtext would need a round trip.
    unsigned long long h = 1469598103934665603ULL;
    for (unsigned char c : "moonshift:" + key) h = (h ^ c) * 1099511628211ULL;
    return static_cast<long long>(h >> 1);
}

std::string describe_holder(const result& holder) {
    if (holder.empty()) return "another session";
    auto r = holder[0];
    return "pid " + r[0].as<std::string>() + " (user " + r[1].as<std::string>() + ", application " +
           r[2].as<std::string>() + ", from " + r[3].as<std::string>() + ", connected " +
           r[4].as<std::string>() + " s ago)";
}

}  // namespace

std::optional<std::string> to_param(double v) { return fmt::format("{}", v); }

struct session::impl {
    std::unique_ptr<connection> c;
    std::set<std::string> prepared;        // query_prepared's names on this connection
    int generation = 0;                    // in the names; a new one after a DEALLOCATE
    std::unique_ptr<session> lock_holder;  // while lock() holds the run's key
    std::future<std::unique_ptr<session>> early_holder;  // connect_lock_holder_early()
    std::optional<long long> held;  // the work key this session holds, until unlock()
    int cancel_slot = -1;           // withdrawn before the connection closes
    ~impl() { cancel::withdraw(cancel_slot); }
};

namespace {

// A prepared statement of this connection under `name`, with the text's
// hash in it (one name asked with another text, say another history
// schema, is another statement): run(named, fresh) prepares it when fresh;
// a failure forgets a fresh one.
template <class Run>
result run_prepared(std::set<std::string>& prepared, int generation, const std::string& name,
                    const std::string& sql, Run run) {
    char tag[24];
    std::snprintf(tag, sizeof tag, "_%zx", std::hash<std::string>{}(sql)&0xffffffffu);
    const std::string named = name + "_" + std::to_string(generation) + tag;
    const bool fresh = prepared.insert(named).second;
    try {
        return run(named, fresh);
    } catch (...) {
        if (fresh) prepared.erase(named);
        throw;
    }
}

class pq_canceller : public session::canceller {
  public:
    explicit pq_canceller(PGconn* c) : cancel_(c ? PQgetCancel(c) : nullptr) {}
    ~pq_canceller() override {
        if (cancel_) PQfreeCancel(cancel_);
    }
    bool cancel() noexcept override {
        char err[256];
        return cancel_ && PQcancel(cancel_, err, sizeof err) == 1;
    }

  private:
    PGcancel* cancel_;
};

}  // namespace

sql_failure::sql_failure(server_error e, std::string query)
    : error(exit_code::migration_failed, e.message, e.hint),
      info_(std::move(e)),
      query_(std::move(query)) {}

session::session(const settings& s) : settings_(s), impl_(std::make_unique<impl>()) {
    remember_secrets(s.url);
    if (s.lock_holder_early && s.pooler != pooler_mode::transaction)
        connect_lock_holder_early();  // before pooled() is known: see lock()
    connect(s);
    // Through a transaction pooler a session SET would land on whichever
    // server connection is free, and stay there for its next client.
    if (auto set = timeouts_sql(); !set.empty() && !pooled()) exec_script(set);
}

session::session(const settings& s, holder_tag)
    : settings_(s), pooled_because_(""), impl_(std::make_unique<impl>()) {
    connect(s);  // the session that made it found no pooler
}

const std::string& session::pooled_because() const {
    if (!pooled_because_)
        pooled_because_ =
            detect_pooler(raw(), with_defaults(settings_.url, settings_.connect_timeout),
                          settings_.pooler, in_transaction());
    return *pooled_because_;
}

void session::connect(const settings& s) {
    try {
        impl_->c = std::make_unique<connection>(with_defaults(s.url, s.connect_timeout));
    } catch (const connection::connect_failure& e) {
        // A configuration error (README: exit 2): the URL, the server or the credentials.
        throw error(exit_code::usage,
                    "cannot connect to " +
                        (s.url.empty() ? std::string("the database named by PG* variables")
                                       : redacted(s.url)) +
                        ": " + text::redact(text::trim(e.what())),
                    connect_hint(e.what()));
    }
    impl_->cancel_slot = cancel::enroll(raw());
}

std::string session::timeouts_sql() const {
    if (!settings_.lock_timeout && !settings_.statement_timeout) return "";  // nothing to ask
    const std::string how = pooled() ? ";SET LOCAL " : ";SET ";
    std::string set;
    if (settings_.lock_timeout)
        set += how + "lock_timeout = " + std::to_string(settings_.lock_timeout->count());
    if (settings_.statement_timeout)
        set += how + "statement_timeout = " + std::to_string(settings_.statement_timeout->count());
    return set.empty() ? set : set.substr(1);
}

std::string session::restore_settings_sql() const {
    if (pooled()) return timeouts_sql();
    // RESET ALL leaves the role alone (a GUC it skips); SET ROLE in a
    // migration must not outlive it either.
    auto set = timeouts_sql();
    return "RESET ALL;RESET ROLE" + (set.empty() ? set : ";" + set);
}

void session::restore_settings() {
    if (!pooled()) exec_script(restore_settings_sql());
}

session::~session() = default;

pg_conn* session::raw() const { return impl_->c->raw(); }

result session::query_with(const std::string& sql, const params& p) {
    return pq::exec(raw(), sql, p, sql, 0);
}

result session::query_shown(const std::string& sql, const params& p, const std::string& shown,
                            int prefix) {
    return pq::exec(raw(), sql, p, shown, prefix);
}

result session::query_prepared(const std::string& name, const std::string& sql, const params& p) {
    if (pooled()) return query_with(sql, p);
    return run_prepared(impl_->prepared, impl_->generation, name, sql,
                        [&](const std::string& named, bool fresh) {
                            return pq::exec_prepared(raw(), named, sql, fresh, p);
                        });
}

result session::query_planned_once(const std::string& name, const std::string& sql,
                                   const std::vector<std::string>& args) {
    std::string set;
    for (std::size_t i = 0; i < args.size(); ++i)
        set += "SELECT set_config('moonshift.arg" + std::to_string(i + 1) + "', " +
               quote::literal(args[i]) + ", true);";
    // Through a transaction pooler, where a prepared statement does not last: the text itself.
    if (pooled()) return pq::exec_prepared_after(raw(), "", sql, false, set);
    return run_prepared(impl_->prepared, impl_->generation, name, sql,
                        [&](const std::string& named, bool fresh) {
                            return pq::exec_prepared_after(raw(), named, sql, fresh, set);
                        });
}

void session::forget_prepared_after(const std::string& sql) {
    // A script that may have deallocated them (DEALLOCATE, DISCARD ALL):
    // the next use prepares under a new name, never one the script used.
    auto has = [&](const char* word) {
        return std::search(sql.begin(), sql.end(), word, word + std::strlen(word),
                           [](char a, char b) {
                               return std::toupper(static_cast<unsigned char>(a)) == b;
                           }) != sql.end();
    };
    if (!impl_->prepared.empty() && (has("DEALLOCATE") || has("DISCARD"))) {
        impl_->prepared.clear();
        ++impl_->generation;
    }
}

void session::exec_script(const std::string& sql) {
    forget_prepared_after(sql);
    pq::command(raw(), sql);
}

void session::exec_script(const std::string& sql, int prefix) {
    forget_prepared_after(sql);
    pq::command(raw(), sql, prefix);
}

bool session::in_transaction() const { return pq::in_transaction(raw()); }
bool session::transaction_failed() const { return pq::transaction_failed(raw()); }
void session::rollback_open() noexcept {
    if (raw() && pq::in_transaction(raw())) pq::command_quietly(raw(), "ROLLBACK");
}

long long session::copy_out(const std::string& sql, const std::string& shown,
                            const std::function<void(const char*, std::size_t)>& line) {
    return pq::copy_out(raw(), sql, shown, line);
}

long long session::copy_in(const std::string& sql, const std::string& shown,
                           const std::function<bool(std::string&)>& fill) {
    return pq::copy_in(raw(), sql, shown, fill);
}

int session::backend_pid() { return PQbackendPID(raw()); }
int session::server_version() { return PQserverVersion(raw()); }

namespace {

// What to say about the holder of a lock: while waiting ("waiting for … held
// by" + who) and on time-out (held_by + ": " + who, and the hint).
struct lock_words {
    const char* waiting_for;
    const char* held_by;
    const char* hint;
};

// Takes the advisory lock `k` on `s`, waiting up to `deadline`.
void take(session& s, long long k, std::chrono::steady_clock::time_point deadline,
          const lock_words& words, const std::function<void(const std::string&)>& waiting) {
    auto next_report = std::chrono::steady_clock::now();
    for (;;) {
        if (s.query("SELECT pg_try_advisory_lock($1)", k)[0][0].as<bool>()) return;
        // Who holds it: the advisory lock splits the key into classid/objid.
        std::string who = describe_holder(
            s.query("SELECT a.pid, coalesce(a.usename, ''), coalesce(a.application_name, ''),"
                    "       coalesce(a.client_addr::text, 'local'), "
                    "       coalesce(extract(epoch FROM now() - a.backend_start)::bigint, 0)"
                    "  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                    " WHERE l.locktype = 'advisory' AND l.granted"
                    "   AND l.classid = (($1::bigint >> 32) & 4294967295)::oid"
                    "   AND l.objid = ($1::bigint & 4294967295)::oid AND l.objsubid = 1 LIMIT 1",
                    k));
        auto now = std::chrono::steady_clock::now();
        if (now >= deadline)
            throw error(exit_code::lock_held, std::string(words.held_by) + ": " + who, words.hint);
        if (now >= next_report) {
            if (waiting) waiting(words.waiting_for + who);
            next_report = now + std::chrono::seconds(1);
        }
        std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
            std::chrono::milliseconds(100),
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) +
                std::chrono::milliseconds(1)));
    }
}

}  // namespace

// Two keys. The run's key is held by a session of its own that stays idle
// for the whole run, so nothing a migration or a script sends (say
// pg_advisory_unlock_all()) can release it. The work key is held by this
// session: when the client dies while the server still runs one of its
// statements, the idle session's lock goes at once but this one stays until
// the statement ends, so the next run cannot start beside it.
void session::lock(const std::string& key, std::chrono::milliseconds wait,
                   const std::function<void(const std::string&)>& waiting) {
    if (pooled())  // the engine takes history/'s lease instead (a bug if it gets here)
        throw error(exit_code::migration_failed,
                    "a session advisory lock cannot be held through a transaction pooler");
    const auto deadline = std::chrono::steady_clock::now() + wait;
    auto holder =
        impl_->early_holder.valid() ? impl_->early_holder.get() : connect_holder(settings_);
    static const lock_words run = {"waiting for the migration lock held by ",
                                   "another moonshift run holds the migration lock",
                                   "wait for it to finish, or raise lock_wait in moonshift.toml"};
    static const lock_words work = {
        "waiting for a statement of an earlier run (its client is gone) to end: ",
        "a statement of an earlier run (its client is gone) still runs on the server",
        "wait for it to end, or cancel it with pg_cancel_backend(pid); the next run resumes "
        "where the history says it stopped"};
    take(*holder, lock_key(key), deadline, run, waiting);
    take(*this, lock_key(key + ":work"), deadline, work, waiting);
    impl_->lock_holder = std::move(holder);
    impl_->held = lock_key(key + ":work");
}

std::unique_ptr<session> session::connect_holder(const settings& s) {
    std::unique_ptr<session> holder(new session(s, holder_tag{}));
    // An idle_session_timeout on the server would end the holder, and the lock with it.
    if (holder->server_version() >= 140000) holder->exec_script("SET idle_session_timeout = 0");
    return holder;
}

// Through a transaction pooler lock() is never called: a holder connected
// before the pooler was detected is closed with this session.
void session::connect_lock_holder_early() {
    if (impl_->early_holder.valid() || impl_->lock_holder || (impl_->c && pooled())) return;
    try {
        impl_->early_holder = std::async(std::launch::async, connect_holder, settings_);
    } catch (const std::system_error&) {
        // No thread to spare: lock() connects it.
    }
}

void session::unlock(const std::string& key) {
    if (pooled()) return;                         // lock() never took anything
    auto holder = std::move(impl_->lock_holder);  // closing it releases the run's key
    impl_->held.reset();
    query("SELECT pg_advisory_unlock($1)", lock_key(key + ":work"));
}

bool session::still_holds_lock() {
    if (!impl_->held) return true;
    return query(
               "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
               "   AND pid = pg_backend_pid()"
               "   AND classid = (($1::bigint >> 32) & 4294967295)::oid"
               "   AND objid = ($1::bigint & 4294967295)::oid AND objsubid = 1",
               *impl_->held)[0][0]
               .as<long long>() > 0;
}

std::shared_ptr<session::canceller> session::make_canceller() {
    return std::make_shared<pq_canceller>(raw());
}

std::string redacted(const std::string& url) { return text::redact(url); }

void wait_until_ready(const std::string& url, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string last;
    for (;;) {
        PGconn* c = PQconnectdb(with_defaults(url, std::chrono::milliseconds(2000)).c_str());
        bool ok = PQstatus(c) == CONNECTION_OK;
        if (!ok) last = text::trim(PQerrorMessage(c));
        PQfinish(c);
        if (ok) return;
        if (std::chrono::steady_clock::now() >= deadline)
            throw error(exit_code::migration_failed,
                        "the database did not accept connections within " +
                            text::format_duration(timeout) + ": " + text::redact(last));
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

}  // namespace moonshift::db
