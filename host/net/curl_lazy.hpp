// libcurl loaded on first use (dlopen), not when moonshift starts: curl's
// chain of libraries (TLS, LDAP, SSH, HTTP/2, IDN) and their initialisers
// cost every command start-up time, and only hooks and webhooks use it.
// Include after <curl/curl.h> (with CURL_DISABLE_TYPECHECK defined before
// it): the curl_* calls below then go through the loaded library.
#pragma once
#include <curl/curl.h>

namespace moonshift::net::curl {

struct api {
    CURLcode (*global_init)(long);
    CURL* (*easy_init)();
    CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
    CURLcode (*easy_perform)(CURL*);
    CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
    void (*easy_cleanup)(CURL*);
    const char* (*easy_strerror)(CURLcode);
    curl_slist* (*slist_append)(curl_slist*, const char*);
    void (*slist_free_all)(curl_slist*);
    void (*free)(void*);
    CURLU* (*url)();
    void (*url_cleanup)(CURLU*);
    CURLUcode (*url_get)(CURLU*, CURLUPart, char**, unsigned int);
    CURLUcode (*url_set)(CURLU*, CURLUPart, const char*, unsigned int);
};

// The library, loaded once (thread-safe). Throws moonshift::error
// (usage) naming the package when libcurl cannot be loaded.
const api& lib();

}  // namespace moonshift::net::curl

#define curl_global_init (::moonshift::net::curl::lib().global_init)
#define curl_easy_init (::moonshift::net::curl::lib().easy_init)
#define curl_easy_setopt (::moonshift::net::curl::lib().easy_setopt)
#define curl_easy_perform (::moonshift::net::curl::lib().easy_perform)
#define curl_easy_getinfo (::moonshift::net::curl::lib().easy_getinfo)
#define curl_easy_cleanup (::moonshift::net::curl::lib().easy_cleanup)
#define curl_easy_strerror (::moonshift::net::curl::lib().easy_strerror)
#define curl_slist_append (::moonshift::net::curl::lib().slist_append)
#define curl_slist_free_all (::moonshift::net::curl::lib().slist_free_all)
#define curl_free (::moonshift::net::curl::lib().free)
#define curl_url (::moonshift::net::curl::lib().url)
#define curl_url_cleanup (::moonshift::net::curl::lib().url_cleanup)
#define curl_url_get (::moonshift::net::curl::lib().url_get)
#define curl_url_set (::moonshift::net::curl::lib().url_set)
