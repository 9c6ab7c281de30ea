// E-mail for notification hooks and the Lua `mail` module: SMTP through
// libcurl (smtp://, smtps://, STARTTLS, AUTH), MIME built here.
#pragma once
#include <chrono>
#include <string>
#include <vector>

#include "net/http.hpp"

namespace moonshift::net {

struct mail_message {
    std::string from;             // "ops@example.com" or "Moonshift <ops@example.com>"
    std::vector<std::string> to;  // same forms as from
    std::vector<std::string> cc;
    std::string subject;  // UTF-8
    std::string text;     // UTF-8 plain-text body
    std::string html;     // UTF-8 HTML body; when set, the mail is multipart/alternative
};

struct smtp_settings {
    std::string
        url;  // smtp://host:port (STARTTLS optional) or smtps://host:port (TLS from the start)
    std::string user, password;  // AUTH when user is set
    bool starttls = false;       // require STARTTLS on smtp:// (fails if the server lacks it)
    std::string ca_file;         // PEM bundle to trust instead of the system's
    bool insecure = false;       // skip certificate verification (tests only)
    std::chrono::milliseconds timeout{10000};  // per attempt
    int retries = 1;  // extra attempts on connect errors, timeouts and 4xx replies
    std::chrono::milliseconds backoff{500};  // before the first retry; doubles each retry
};

// Sends the message to every address in to and cc. Throws delivery_error:
// "connect", "timeout", "tls", "auth" (status 535 and the like), "smtp" (a
// refused sender, recipient or message; status is the reply code) or
// "invalid" (a bad address or URL). Messages never contain the user name or
// password.
void send_mail(const smtp_settings& settings, const mail_message& message);

// The complete RFC 5322 message as send_mail transmits it (CRLF line ends).
std::string format_mail(const mail_message& message);

}  // namespace moonshift::net
