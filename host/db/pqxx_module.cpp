// moonshift-pq.so: libpqxx (and through it libpq and its chain of libraries),
// loaded by the binary on its first connection (pq_lazy.cpp), never at start.
// libpqxx makes the connection; the binary takes its PGconn for the calls of
// host/db/ (pq.cpp), whose error fields pqxx::sql_error does not carry.
#include <libpq-fe.h>

#include <cstring>
#include <exception>
#include <pqxx/pqxx>
#include <string>

namespace {

// libpqxx 6.4 keeps the PGconn private; a connection policy is its public
// extension point and sees the handle.
class recording_policy : public pqxx::connectionpolicy {
  public:
    explicit recording_policy(const std::string& opts) : pqxx::connectionpolicy(opts) {}
    handle do_startconnect(handle orig) override {
        if (orig) return orig;
        handle_ = normalconnect(orig);
        return handle_;
    }
    handle do_disconnect(handle orig) noexcept override {
        handle_ = nullptr;
        return pqxx::connectionpolicy::do_disconnect(orig);
    }
    handle do_dropconnect(handle orig) noexcept override {
        handle_ = nullptr;
        return pqxx::connectionpolicy::do_dropconnect(orig);
    }
    handle raw() const { return handle_; }

  private:
    handle handle_ = nullptr;
};

class connection : public pqxx::connection_base {
  public:
    explicit connection(const std::string& opts) : pqxx::connection_base(policy_), policy_(opts) {
        init();
    }
    ~connection() noexcept { close(); }
    PGconn* raw() const { return policy_.raw(); }

  private:
    recording_policy policy_;
};

void copy_message(const char* what, char* error, unsigned long size) {
    if (!error || size == 0) return;
    std::strncpy(error, what ? what : "", size - 1);
    error[size - 1] = '\0';
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) void* moonshift_pq_connect(const char* options, char* error,
                                                                  unsigned long size) noexcept {
    try {
        return new connection(options ? options : "");
    } catch (const std::exception& e) {
        copy_message(e.what(), error, size);
    } catch (...) {
        copy_message("libpqxx failed to connect", error, size);
    }
    return nullptr;
}

__attribute__((visibility("default"))) PGconn* moonshift_pq_handle(void* c) noexcept {
    return c ? static_cast<connection*>(c)->raw() : nullptr;
}

__attribute__((visibility("default"))) void moonshift_pq_close(void* c) noexcept {
    delete static_cast<connection*>(c);
}

}  // extern "C"
