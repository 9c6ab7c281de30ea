// URLs as the HTTP and mail clients need them: their parts (libcurl's parser).
// Private to host/net/.
#pragma once
#include <string>

namespace moonshift::net::detail {

// A parsed URL; parts are empty when absent or when the URL did not parse.
struct url_parts {
    bool ok = false;
    std::string scheme, user, password, host, port, path, query;
};

url_parts parse_url(const std::string& url);

// ASCII lower case.
std::string lower(std::string s);

}  // namespace moonshift::net::detail
