// Real HTTP(S) and SMTP receivers for tests. One accept thread per receiver,
// one thread per connection; the destructor shuts every socket down so no
// thread outlives the receiver, even one sleeping in a "slow server" delay.
#include "support/receivers.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <stdexcept>
#include <thread>

namespace moonshift::test {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return std::string(s);
}

bool iequals(std::string_view a, std::string_view b) { return lower(a) == lower(b); }

std::string find_header(const header_list& headers, std::string_view name) {
    for (const auto& [k, v] : headers)
        if (iequals(k, name)) return v;
    return {};
}

std::string base64_decode(std::string_view in) {
    std::string clean;
    for (char c : in)
        if (!std::isspace(static_cast<unsigned char>(c))) clean.push_back(c);
    if (clean.size() % 4 != 0) return {};
    std::string out(clean.size() / 4 * 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(clean.data()),
                            static_cast<int>(clean.size()));
    if (n < 0) return {};
    std::size_t len = static_cast<std::size_t>(n);
    for (std::size_t i = clean.size(); i > 0 && clean[i - 1] == '='; --i) --len;  // padding
    out.resize(len);
    return out;
}

std::string base64_encode(std::string_view in) {
    std::string out(4 * ((in.size() + 2) / 3), '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(in.data()),
                            static_cast<int>(in.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string ssl_errors() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        out += out.empty() ? buf : std::string("; ") + buf;
    }
    return out;
}

// ---------------------------------------------------------------------------
// A connection: buffered reads of lines and byte counts, over TCP or TLS.

class connection {
  public:
    explicit connection(int fd) : fd_(fd) {}
    ~connection() {
        if (ssl_) {
            SSL_shutdown(ssl_);
            SSL_free(ssl_);
        }
    }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    bool tls() const { return ssl_ != nullptr; }

    bool start_tls(SSL_CTX* ctx) {
        buffer_.clear();  // nothing sent before the handshake may count after it
        ssl_ = SSL_new(ctx);
        SSL_set_fd(ssl_, fd_);
        if (SSL_accept(ssl_) == 1) return true;
        ERR_clear_error();  // a client that rejects the certificate is an expected outcome
        return false;
    }

    bool read_line(std::string& line) {
        for (;;) {
            if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
                line = buffer_.substr(0, nl);
                if (!line.empty() && line.back() == '\r') line.pop_back();
                buffer_.erase(0, nl + 1);
                return true;
            }
            if (buffer_.size() > 1 << 20 || !fill()) return false;
        }
    }

    bool read_until(std::string_view delimiter, std::string& out) {
        for (;;) {
            if (auto at = buffer_.find(delimiter); at != std::string::npos) {
                out = buffer_.substr(0, at);
                buffer_.erase(0, at + delimiter.size());
                return true;
            }
            if (buffer_.size() > 1 << 20 || !fill()) return false;
        }
    }

    bool read_exact(std::size_t n, std::string& out) {
        while (buffer_.size() < n)
            if (!fill()) return false;
        out = buffer_.substr(0, n);
        buffer_.erase(0, n);
        return true;
    }

    bool write(std::string_view data) {
        while (!data.empty()) {
            long n = ssl_ ? SSL_write(ssl_, data.data(), static_cast<int>(data.size()))
                          : ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            data.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

  private:
    bool fill() {
        char buf[16384];
        long n = ssl_ ? SSL_read(ssl_, buf, sizeof buf) : ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) {
            ERR_clear_error();
            return false;
        }
        buffer_.append(buf, static_cast<std::size_t>(n));
        return true;
    }

    int fd_;
    SSL* ssl_ = nullptr;
    std::string buffer_;
};

// ---------------------------------------------------------------------------
// A listening socket on 127.0.0.1 with a thread per connection.

class tcp_server {
  public:
    using handler = std::function<void(connection&)>;

    explicit tcp_server(handler serve) : serve_(std::move(serve)) {
        static std::once_flag once;
        // SSL_write to a client that has gone away must fail, not kill the test binary.
        std::call_once(once, [] { std::signal(SIGPIPE, SIG_IGN); });
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (listen_fd_ < 0) throw std::runtime_error("socket() failed");
        int one = 1;
        ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::listen(listen_fd_, 64) != 0 ||
            ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            ::close(listen_fd_);
            throw std::runtime_error("cannot listen on 127.0.0.1");
        }
        port_ = ntohs(addr.sin_port);
        acceptor_ = std::thread([this] { accept_loop(); });
    }

    ~tcp_server() { stop(); }

    // Stops accepting, wakes every connection and joins its thread. The
    // receivers call it first, while the state their handlers use still lives.
    void stop() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (stopping_) return;
            stopping_ = true;
            for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);  // wakes blocked reads
        }
        wake_.notify_all();
        acceptor_.join();
        for (auto& t : workers_) t.join();  // no new worker after the acceptor ended
        ::close(listen_fd_);
    }

    int port() const { return port_; }

    // Sleeps unless the server stops first; false when it stopped.
    bool sleep_for(std::chrono::milliseconds d) {
        std::unique_lock<std::mutex> lock(mutex_);
        return !wake_.wait_for(lock, d, [this] { return stopping_; });
    }

  private:
    void accept_loop() {
        for (;;) {
            pollfd p{listen_fd_, POLLIN, 0};
            int ready = ::poll(&p, 1, 20);
            std::lock_guard<std::mutex> lock(mutex_);
            if (stopping_) return;
            if (ready <= 0) continue;
            int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) continue;
            open_fds_.insert(fd);
            workers_.emplace_back([this, fd] {
                try {
                    connection c(fd);
                    serve_(c);
                } catch (const std::exception&) {
                    // a malformed request just ends its connection
                }
                std::lock_guard<std::mutex> lock(mutex_);
                open_fds_.erase(fd);
                ::close(fd);
            });
        }
    }

    handler serve_;
    int listen_fd_ = -1;
    int port_ = 0;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::set<int> open_fds_;
    std::list<std::thread> workers_;  // joined in the destructor
    std::thread acceptor_;
};

using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;

ssl_ctx_ptr server_context(const test_certificate& cert) {
    ssl_ctx_ptr ctx(SSL_CTX_new(TLS_server_method()), &SSL_CTX_free);
    if (!ctx ||
        SSL_CTX_use_certificate_file(ctx.get(), cert.cert_file().c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx.get(), cert.key_file().c_str(), SSL_FILETYPE_PEM) != 1)
        throw std::runtime_error("cannot load the test certificate: " + ssl_errors());
    return ctx;
}

const char* reason_phrase(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 202:
            return "Accepted";
        case 204:
            return "No Content";
        case 301:
            return "Moved Permanently";
        case 302:
            return "Found";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 429:
            return "Too Many Requests";
        case 500:
            return "Internal Server Error";
        case 502:
            return "Bad Gateway";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        default:
            return "Status";
    }
}

// Unfolds a header block (CRLF followed by a space or tab continues a line).
header_list parse_headers(std::string_view block) {
    header_list out;
    std::string unfolded;
    for (std::size_t i = 0; i < block.size(); ++i) {
        if (block[i] == '\r' && i + 1 < block.size() && block[i + 1] == '\n') {
            if (i + 2 < block.size() && (block[i + 2] == ' ' || block[i + 2] == '\t')) {
                ++i;
                continue;
            }
            unfolded += '\n';
            ++i;
        } else {
            unfolded += block[i];
        }
    }
    std::string_view rest = unfolded;
    while (!rest.empty()) {
        auto nl = rest.find('\n');
        auto line = rest.substr(0, nl);
        if (auto colon = line.find(':'); colon != std::string_view::npos)
            out.emplace_back(lower(trim(line.substr(0, colon))), trim(line.substr(colon + 1)));
        if (nl == std::string_view::npos) break;
        rest.remove_prefix(nl + 1);
    }
    return out;
}

std::string quoted_printable_decode(std::string_view in) {
    std::string out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '=') {
            out.push_back(in[i]);
        } else if (i + 2 < in.size() && in[i + 1] == '\r' && in[i + 2] == '\n') {
            i += 2;  // soft line break
        } else if (i + 2 < in.size() && std::isxdigit(static_cast<unsigned char>(in[i + 1])) &&
                   std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
            out.push_back(
                static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16)));
            i += 2;
        } else {
            out.push_back('=');
        }
    }
    return out;
}

// RFC 2047: encoded words become UTF-8; blanks between two encoded words go.
std::string decode_header_words(const std::string& value) {
    static const std::regex word(R"(=\?([^?]+)\?([BbQq])\?([^?]*)\?=)");
    std::string out;
    std::size_t pos = 0;
    bool previous_was_word = false;
    for (auto it = std::sregex_iterator(value.begin(), value.end(), word);
         it != std::sregex_iterator(); ++it) {
        std::string between = value.substr(pos, static_cast<std::size_t>(it->position()) - pos);
        if (!(previous_was_word && trim(between).empty())) out += between;
        std::string payload = (*it)[3];
        if ((*it)[2] == "B" || (*it)[2] == "b") {
            out += base64_decode(payload);
        } else {
            std::replace(payload.begin(), payload.end(), '_', ' ');
            out += quoted_printable_decode(payload);
        }
        pos = static_cast<std::size_t>(it->position() + it->length());
        previous_was_word = true;
    }
    return out + value.substr(pos);
}

std::string crlf_to_lf(std::string s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i)
        if (!(s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n')) out.push_back(s[i]);
    return out;
}

std::string decode_body(const header_list& headers, std::string_view body) {
    std::string encoding = lower(find_header(headers, "content-transfer-encoding"));
    std::string decoded = encoding == "quoted-printable" ? quoted_printable_decode(body)
                          : encoding == "base64"         ? base64_decode(body)
                                                         : std::string(body);
    return crlf_to_lf(decoded);
}

std::string media_type(const header_list& headers) {
    std::string type = find_header(headers, "content-type");
    return lower(trim(type.substr(0, type.find(';'))));
}

}  // namespace

// ---------------------------------------------------------------------------

int unused_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);  // bound but never listening, and now released
    return ntohs(addr.sin_port);
}

test_certificate::test_certificate() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "moonshift-cert-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    cert_file_ = dir_ + "/cert.pem";
    key_file_ = dir_ + "/key.pem";

    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
    std::unique_ptr<X509, decltype(&X509_free)> x509(X509_new(), &X509_free);
    if (!key || !x509) throw std::runtime_error("cannot make a test key: " + ssl_errors());
    X509* x = x509.get();
    unsigned char serial[8];
    RAND_bytes(serial, sizeof serial);
    std::string unique;  // a distinct subject, so two test certificates never chain
    for (unsigned char c : serial) unique += "0123456789abcdef"[c & 15];
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x),
                     static_cast<long>(serial[0]) << 16 | serial[1] << 8 | serial[2]);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key.get());
    X509_NAME* name = X509_get_subject_name(x);
    std::string cn = "moonshift test " + unique;
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
    const std::pair<int, const char*> extensions[] = {
        {NID_basic_constraints, "critical,CA:TRUE"},
        {NID_key_usage, "critical,digitalSignature,keyCertSign"},
        {NID_ext_key_usage, "serverAuth"},
        {NID_subject_key_identifier, "hash"},
        {NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost"},
    };
    for (const auto& [nid, value] : extensions) {
        X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
        if (!ext || !X509_add_ext(x, ext, -1))
            throw std::runtime_error("cannot add a certificate extension: " + ssl_errors());
        X509_EXTENSION_free(ext);
    }
    if (!X509_sign(x, key.get(), EVP_sha256()))
        throw std::runtime_error("cannot sign the test certificate: " + ssl_errors());

    auto write = [](const std::string& path, auto&& writer) {
        FILE* f = std::fopen(path.c_str(), "w");
        if (!f) throw std::runtime_error("cannot write " + path);
        bool ok = writer(f);
        std::fclose(f);
        if (!ok) throw std::runtime_error("cannot write " + path);
    };
    write(cert_file_, [&](FILE* f) { return PEM_write_X509(f, x) == 1; });
    write(key_file_, [&](FILE* f) {
        return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
    });
}

test_certificate::~test_certificate() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

std::string recorded_request::header(std::string_view name) const {
    return find_header(headers, name);
}

// ---------------------------------------------------------------------------
// HTTP

struct http_receiver::state {
    std::shared_ptr<const test_certificate> certificate;
    ssl_ctx_ptr tls{nullptr, &SSL_CTX_free};
    mutable std::mutex mutex;
    mutable std::condition_variable arrived;
    std::vector<recorded_request> requests;
    std::vector<http_reply> script;  // front first
    http_reply fallback{200, "ok", {}, {}};
    std::chrono::milliseconds delay{0};
    struct route {
        http_reply reply;
        double error_rate = 0;
        long served = 0;
    };
    std::map<std::string, route> routes;
    std::unique_ptr<tcp_server> server;

    void serve(connection& c);
    http_reply choose(const std::string& path);
};

http_reply http_receiver::state::choose(const std::string& path) {
    std::lock_guard<std::mutex> lock(mutex);
    http_reply reply;
    if (auto r = routes.find(path); r != routes.end()) {
        auto& route = r->second;
        reply = route.reply;
        // Request n fails when the running total of failures due steps up.
        long n = route.served++;
        if (static_cast<long>((n + 1) * route.error_rate) >
            static_cast<long>(n * route.error_rate)) {
            reply.status = 500;
            reply.body = R"({"status":"error"})";
        }
    } else if (!script.empty()) {
        reply = script.front();
        script.erase(script.begin());
    } else {
        reply = fallback;
    }
    reply.delay += delay;
    return reply;
}

void http_receiver::state::serve(connection& c) {
    if (tls && !c.start_tls(tls.get())) return;
    std::string head;
    if (!c.read_until("\r\n\r\n", head)) return;
    recorded_request req;
    req.tls = c.tls();
    auto line_end = head.find("\r\n");
    std::string request_line = head.substr(0, line_end);
    auto sp1 = request_line.find(' '), sp2 = request_line.rfind(' ');
    if (sp1 == std::string::npos || sp2 == sp1) return;
    req.method = request_line.substr(0, sp1);
    req.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    if (line_end != std::string::npos) req.headers = parse_headers(head.substr(line_end + 2));

    if (iequals(req.header("expect"), "100-continue") && !c.write("HTTP/1.1 100 Continue\r\n\r\n"))
        return;
    if (auto length = req.header("content-length"); !length.empty()) {
        if (!c.read_exact(std::stoul(length), req.body)) return;
    } else if (iequals(req.header("transfer-encoding"), "chunked")) {
        for (std::string size_line, chunk;;) {
            if (!c.read_line(size_line)) return;
            std::size_t size = std::stoul(size_line, nullptr, 16);
            if (size == 0) {
                std::string trailer;
                while (c.read_line(trailer) && !trailer.empty()) {
                }
                break;
            }
            if (!c.read_exact(size + 2, chunk)) return;
            req.body += chunk.substr(0, size);
        }
    }
    http_reply reply = choose(req.path);
    {
        std::lock_guard<std::mutex> lock(mutex);
        requests.push_back(std::move(req));
    }
    arrived.notify_all();

    if (reply.delay.count() > 0 && !server->sleep_for(reply.delay)) return;
    std::string out =
        "HTTP/1.1 " + std::to_string(reply.status) + " " + reason_phrase(reply.status) + "\r\n";
    bool has_type = false;
    for (const auto& [k, v] : reply.headers) {
        out += k + ": " + v + "\r\n";
        has_type = has_type || iequals(k, "content-type");
    }
    if (!has_type) out += "Content-Type: text/plain\r\n";
    out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\nConnection: close\r\n\r\n";
    c.write(out + reply.body);
}

http_receiver::http_receiver() : http_receiver(nullptr) {}

http_receiver::http_receiver(std::shared_ptr<const test_certificate> certificate)
    : state_(std::make_unique<state>()) {
    state_->routes["/health"].reply = {
        200, R"({"status":"ok"})", {{"Content-Type", "application/json"}}, {}};
    if (certificate) {
        state_->certificate = std::move(certificate);
        state_->tls = server_context(*state_->certificate);
    }
    state* s = state_.get();
    state_->server = std::make_unique<tcp_server>([s](connection& c) { s->serve(c); });
}

http_receiver::~http_receiver() { state_->server->stop(); }

std::string http_receiver::url() const {
    return std::string(state_->tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port());
}
int http_receiver::port() const { return state_->server->port(); }
std::string http_receiver::ca_file() const {
    return state_->certificate ? state_->certificate->cert_file() : std::string();
}

void http_receiver::respond_with(std::vector<int> statuses) {
    std::vector<http_reply> replies;
    for (int s : statuses)
        replies.push_back({s, s < 300 ? "ok" : "error " + std::to_string(s), {}, {}});
    respond_with(std::move(replies));
}
void http_receiver::respond_with(std::vector<http_reply> replies) {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->script = std::move(replies);
}
void http_receiver::set_default_reply(http_reply reply) {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->fallback = std::move(reply);
}
void http_receiver::set_delay(std::chrono::milliseconds delay) {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->delay = delay;
}
void http_receiver::set_route(const std::string& path, http_reply reply) {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->routes[path].reply = std::move(reply);
}
void http_receiver::set_health(int status, std::string body) {
    std::lock_guard<std::mutex> lock(state_->mutex);
    auto& reply = state_->routes["/health"].reply;
    reply.status = status;
    reply.body = std::move(body);
}
void http_receiver::set_health_latency(std::chrono::milliseconds latency) {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->routes["/health"].reply.delay = latency;
}
void http_receiver::set_health_error_rate(double fraction) {
    std::lock_guard<std::mutex> lock(state_->mutex);
    auto& route = state_->routes["/health"];
    route.error_rate = std::clamp(fraction, 0.0, 1.0);
    route.served = 0;
}
std::string http_receiver::health_url() const { return url() + "/health"; }

std::vector<recorded_request> http_receiver::requests() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->requests;
}
std::size_t http_receiver::request_count() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->requests.size();
}
bool http_receiver::wait_for(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(state_->mutex);
    return state_->arrived.wait_for(lock, timeout, [&] { return state_->requests.size() >= n; });
}
void http_receiver::clear() {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->requests.clear();
}

// ---------------------------------------------------------------------------
// SMTP

std::string recorded_mail::header(std::string_view name) const {
    return find_header(parse_headers(data.substr(0, data.find("\r\n\r\n"))), name);
}

std::string recorded_mail::body_part(std::string_view content_type) const {
    auto split = data.find("\r\n\r\n");
    if (split == std::string::npos) return {};
    header_list top = parse_headers(data.substr(0, split));
    std::string body = data.substr(split + 4);
    std::string type = media_type(top);
    if (type.rfind("multipart/", 0) != 0) {
        if (type != lower(content_type)) return {};
        if (body.size() >= 2 && body.compare(body.size() - 2, 2, "\r\n") == 0)
            body.resize(body.size() - 2);
        return decode_body(top, body);
    }
    static const std::regex boundary_param(R"re(boundary="?([^";]+)"?)re", std::regex::icase);
    std::smatch m;
    std::string content = find_header(top, "content-type");
    if (!std::regex_search(content, m, boundary_param)) return {};
    const std::string delimiter = "\r\n--" + m[1].str();
    std::string rest = "\r\n" + body;  // the first delimiter may open the body
    for (auto at = rest.find(delimiter); at != std::string::npos;) {
        auto start = rest.find("\r\n", at + delimiter.size());
        if (start == std::string::npos) break;
        auto next = rest.find(delimiter, start);
        if (next == std::string::npos) break;
        std::string part = rest.substr(start + 2, next - start - 2);
        auto part_split = part.find("\r\n\r\n");
        header_list headers = parse_headers(part.substr(0, part_split));
        if (part_split != std::string::npos && media_type(headers) == lower(content_type))
            return decode_body(headers, part.substr(part_split + 4));
        at = next;
    }
    return {};
}

struct smtp_receiver::state {
    smtp_options options;
    ssl_ctx_ptr tls{nullptr, &SSL_CTX_free};
    mutable std::mutex mutex;
    mutable std::condition_variable arrived;
    std::vector<recorded_mail> messages;
    std::vector<std::string> commands;
    std::chrono::milliseconds delay{0};
    int auth_failures = 0;
    std::unique_ptr<tcp_server> server;

    void serve(connection& c);
    bool reply(connection& c, const std::string& text) {
        std::chrono::milliseconds d;
        {
            std::lock_guard<std::mutex> lock(mutex);
            d = delay;
        }
        if (d.count() > 0 && !server->sleep_for(d)) return false;
        return c.write(text + "\r\n");
    }
    bool check_auth(connection& c, const std::string& args, std::string& user);
};

// AUTH PLAIN and AUTH LOGIN, with or without an initial response.
bool smtp_receiver::state::check_auth(connection& c, const std::string& args, std::string& user) {
    auto sp = args.find(' ');
    std::string mechanism = lower(args.substr(0, sp));
    std::string initial = sp == std::string::npos ? "" : trim(args.substr(sp + 1));
    auto ask = [&](const std::string& prompt, std::string& answer) {
        if (!reply(c, "334 " + prompt) || !c.read_line(answer)) return false;
        std::lock_guard<std::mutex> lock(mutex);
        commands.push_back(answer);
        return answer != "*";
    };
    std::string given_user, given_password;
    if (mechanism == "plain") {
        std::string response = initial;
        if (response.empty() && !ask("", response)) return false;
        std::string decoded = base64_decode(response);
        auto first = decoded.find('\0');
        auto second = first == std::string::npos ? first : decoded.find('\0', first + 1);
        if (second == std::string::npos) return false;
        given_user = decoded.substr(first + 1, second - first - 1);
        given_password = decoded.substr(second + 1);
    } else {
        std::string u = initial, p;
        if (u.empty() && !ask(base64_encode("Username:"), u)) return false;
        if (!ask(base64_encode("Password:"), p)) return false;
        given_user = base64_decode(u);
        given_password = base64_decode(p);
    }
    user = given_user;
    return given_user == options.user && given_password == options.password;
}

void smtp_receiver::state::serve(connection& c) {
    if (options.implicit_tls && !c.start_tls(tls.get())) return;
    if (!reply(c, "220 moonshift-test ESMTP ready")) return;
    bool greeted = false;
    std::string auth_user, from;
    std::vector<std::string> recipients;
    bool in_transaction = false;
    const bool auth_required = !options.user.empty();
    auto address_of = [](const std::string& arg) {
        auto lt = arg.find('<'), gt = arg.find('>');
        return lt == std::string::npos || gt == std::string::npos
                   ? trim(arg.substr(arg.find(':') + 1))
                   : arg.substr(lt + 1, gt - lt - 1);
    };
    for (std::string line; c.read_line(line);) {
        {
            std::lock_guard<std::mutex> lock(mutex);
            commands.push_back(line);
        }
        auto sp = line.find(' ');
        std::string verb = lower(line.substr(0, sp));
        std::string args = sp == std::string::npos ? "" : trim(line.substr(sp + 1));
        bool ok = true;
        if (verb == "ehlo") {
            greeted = true;
            std::vector<std::string> lines = {"moonshift-test greets " + args, "8BITMIME"};
            if (options.starttls && !c.tls()) lines.push_back("STARTTLS");
            if (auth_required) lines.push_back("AUTH " + options.auth_mechanisms);
            lines.push_back("HELP");
            std::string out;
            for (std::size_t i = 0; i < lines.size(); ++i)
                out += (i + 1 < lines.size() ? "250-" : "250 ") + lines[i] +
                       (i + 1 < lines.size() ? "\r\n" : "");
            ok = reply(c, out);
        } else if (verb == "helo") {
            greeted = true;
            ok = reply(c, "250 moonshift-test");
        } else if (verb == "starttls" && options.starttls && !c.tls()) {
            if (!reply(c, "220 2.0.0 Ready to start TLS") || !c.start_tls(tls.get())) return;
            greeted = false;  // RFC 3207: the client starts over
            auth_user.clear();
            in_transaction = false;
        } else if (verb == "auth" && auth_required && greeted && auth_user.empty()) {
            auto mechanism = lower(args.substr(0, args.find(' ')));
            auto offered = " " + lower(options.auth_mechanisms) + " ";
            std::string user;
            if (offered.find(" " + mechanism + " ") == std::string::npos) {
                ok = reply(c, "504 5.5.4 Unrecognized authentication type");
            } else if (check_auth(c, args, user)) {
                auth_user = user;
                ok = reply(c, "235 2.7.0 Authentication successful");
            } else {
                {
                    std::lock_guard<std::mutex> lock(mutex);
                    ++auth_failures;
                }
                ok = reply(c, "535 5.7.8 Authentication credentials invalid");
            }
        } else if (verb == "mail") {
            if (!greeted)
                ok = reply(c, "503 5.5.1 Error: send HELO/EHLO first");
            else if (auth_required && auth_user.empty())
                ok = reply(c, "530 5.7.0 Authentication required");
            else {
                from = address_of(args);
                recipients.clear();
                in_transaction = true;
                ok = reply(c, "250 2.1.0 Ok");
            }
        } else if (verb == "rcpt") {
            std::string to = address_of(args);
            if (!in_transaction)
                ok = reply(c, "503 5.5.1 Error: need MAIL command");
            else if (std::find(options.reject_recipients.begin(), options.reject_recipients.end(),
                               to) != options.reject_recipients.end())
                ok = reply(c, "550 5.1.1 <" + to + ">: Recipient address rejected");
            else {
                recipients.push_back(to);
                ok = reply(c, "250 2.1.5 Ok");
            }
        } else if (verb == "data") {
            if (recipients.empty()) {
                ok = reply(c, "503 5.5.1 Error: need RCPT command");
                continue;
            }
            if (!reply(c, "354 End data with <CR><LF>.<CR><LF>")) return;
            recorded_mail mail{from, recipients, {}, {}, c.tls(), auth_user};
            for (std::string data_line;;) {
                if (!c.read_line(data_line)) return;
                if (data_line == ".") break;
                if (!data_line.empty() && data_line[0] == '.') data_line.erase(0, 1);  // unstuff
                mail.data += data_line + "\r\n";
            }
            mail.subject = decode_header_words(mail.header("subject"));
            std::size_t number;
            {
                std::lock_guard<std::mutex> lock(mutex);
                messages.push_back(std::move(mail));
                number = messages.size();
            }
            arrived.notify_all();
            in_transaction = false;
            recipients.clear();
            ok = reply(c, "250 2.0.0 Ok: queued as " + std::to_string(number));
        } else if (verb == "rset") {
            in_transaction = false;
            recipients.clear();
            ok = reply(c, "250 2.0.0 Ok");
        } else if (verb == "noop") {
            ok = reply(c, "250 2.0.0 Ok");
        } else if (verb == "quit") {
            reply(c, "221 2.0.0 Bye");
            return;
        } else {
            ok = reply(c, "502 5.5.2 Error: command not recognized");
        }
        if (!ok) return;
    }
}

smtp_receiver::smtp_receiver() : smtp_receiver(smtp_options{}) {}

smtp_receiver::smtp_receiver(smtp_options options) : state_(std::make_unique<state>()) {
    if ((options.starttls || options.implicit_tls) && !options.certificate)
        options.certificate = std::make_shared<test_certificate>();
    if (options.certificate) state_->tls = server_context(*options.certificate);
    state_->options = std::move(options);
    state* s = state_.get();
    state_->server = std::make_unique<tcp_server>([s](connection& c) { s->serve(c); });
}

smtp_receiver::~smtp_receiver() { state_->server->stop(); }

std::string smtp_receiver::url() const {
    return std::string(state_->options.implicit_tls ? "smtps" : "smtp") +
           "://127.0.0.1:" + std::to_string(port());
}
int smtp_receiver::port() const { return state_->server->port(); }
std::string smtp_receiver::ca_file() const {
    return state_->options.certificate ? state_->options.certificate->cert_file() : std::string();
}
void smtp_receiver::set_delay(std::chrono::milliseconds delay) {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->delay = delay;
}
std::vector<recorded_mail> smtp_receiver::messages() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->messages;
}
bool smtp_receiver::wait_for(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(state_->mutex);
    return state_->arrived.wait_for(lock, timeout, [&] { return state_->messages.size() >= n; });
}
int smtp_receiver::auth_failures() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->auth_failures;
}
std::vector<std::string> smtp_receiver::commands() const {
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->commands;
}

}  // namespace moonshift::test
