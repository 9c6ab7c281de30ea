// libpq (with libpqxx) loaded on the first connection, not when moonshift
// starts: libpq's chain of libraries (GSSAPI, LDAP, Kerberos, GnuTLS, SASL,
// p11-kit, ...) costs every process about 10 ms of loading and relocation,
// which `lint`, `plan --offline`, `convert`, `help` never use. The libraries
// come in the module moonshift-pq.so (pqxx_module.cpp: libpqxx makes the
// connection); the PQ* calls of host/db/ go through the pointers below.
// Include instead of <libpq-fe.h>, in host/db/ only.
#pragma once
#include <libpq-fe.h>

#include <string>

// Every libpq function host/db/ calls.
#define MOONSHIFT_LIBPQ_FUNCTIONS(X) \
    X(PQbackendPID)                  \
    X(PQcancel)                      \
    X(PQclear)                       \
    X(PQcmdStatus)                   \
    X(PQcmdTuples)                   \
    X(PQconnectdb)                   \
    X(PQconninfoFree)                \
    X(PQconninfoParse)               \
    X(PQerrorMessage)                \
    X(PQexec)                        \
    X(PQexecParams)                  \
    X(PQexecPrepared)                \
    X(PQfinish)                      \
    X(PQfname)                       \
    X(PQfnumber)                     \
    X(PQfreeCancel)                  \
    X(PQfreemem)                     \
    X(PQftype)                       \
    X(PQgetCancel)                   \
    X(PQgetCopyData)                 \
    X(PQgetResult)                   \
    X(PQgetisnull)                   \
    X(PQgetlength)                   \
    X(PQgetvalue)                    \
    X(PQhost)                        \
    X(PQnfields)                     \
    X(PQntuples)                     \
    X(PQparameterStatus)             \
    X(PQport)                        \
    X(PQprepare)                     \
    X(PQputCopyData)                 \
    X(PQputCopyEnd)                  \
    X(PQresultErrorField)            \
    X(PQresultStatus)                \
    X(PQserverVersion)               \
    X(PQsocket)                      \
    X(PQstatus)                      \
    X(PQtransactionStatus)           \
    X(PQuser)

namespace moonshift::db::libpq {

struct api {
#define MOONSHIFT_LIBPQ_MEMBER(name) decltype(&::name) name = nullptr;
    MOONSHIFT_LIBPQ_FUNCTIONS(MOONSHIFT_LIBPQ_MEMBER)
#undef MOONSHIFT_LIBPQ_MEMBER
    // The module's own: a libpqxx connection made from a connection string.
    // connect returns nullptr with the reason in `error` (NUL-terminated,
    // cut to `size`); handle gives its PGconn; close ends and frees it.
    void* (*connect)(const char* options, char* error, unsigned long size) = nullptr;
    PGconn* (*handle)(void* connection) = nullptr;
    void (*close)(void* connection) = nullptr;
};

// The module, loaded once (thread-safe; a second caller waits for the
// first). Throws moonshift::error (usage) saying what is missing.
const api& lib();

}  // namespace moonshift::db::libpq

#ifndef MOONSHIFT_LIBPQ_DEFINITION
#define PQbackendPID (::moonshift::db::libpq::lib().PQbackendPID)
#define PQcancel (::moonshift::db::libpq::lib().PQcancel)
#define PQclear (::moonshift::db::libpq::lib().PQclear)
#define PQcmdStatus (::moonshift::db::libpq::lib().PQcmdStatus)
#define PQcmdTuples (::moonshift::db::libpq::lib().PQcmdTuples)
#define PQconnectdb (::moonshift::db::libpq::lib().PQconnectdb)
#define PQconninfoFree (::moonshift::db::libpq::lib().PQconninfoFree)
#define PQconninfoParse (::moonshift::db::libpq::lib().PQconninfoParse)
#define PQerrorMessage (::moonshift::db::libpq::lib().PQerrorMessage)
#define PQexec (::moonshift::db::libpq::lib().PQexec)
#define PQexecParams (::moonshift::db::libpq::lib().PQexecParams)
#define PQexecPrepared (::moonshift::db::libpq::lib().PQexecPrepared)
#define PQfinish (::moonshift::db::libpq::lib().PQfinish)
#define PQfname (::moonshift::db::libpq::lib().PQfname)
#define PQfnumber (::moonshift::db::libpq::lib().PQfnumber)
#define PQfreeCancel (::moonshift::db::libpq::lib().PQfreeCancel)
#define PQfreemem (::moonshift::db::libpq::lib().PQfreemem)
#define PQftype (::moonshift::db::libpq::lib().PQftype)
#define PQgetCancel (::moonshift::db::libpq::lib().PQgetCancel)
#define PQgetCopyData (::moonshift::db::libpq::lib().PQgetCopyData)
#define PQgetResult (::moonshift::db::libpq::lib().PQgetResult)
#define PQgetisnull (::moonshift::db::libpq::lib().PQgetisnull)
#define PQgetlength (::moonshift::db::libpq::lib().PQgetlength)
#define PQgetvalue (::moonshift::db::libpq::lib().PQgetvalue)
#define PQhost (::moonshift::db::libpq::lib().PQhost)
#define PQnfields (::moonshift::db::libpq::lib().PQnfields)
#define PQntuples (::moonshift::db::libpq::lib().PQntuples)
#define PQparameterStatus (::moonshift::db::libpq::lib().PQparameterStatus)
#define PQport (::moonshift::db::libpq::lib().PQport)
#define PQprepare (::moonshift::db::libpq::lib().PQprepare)
#define PQputCopyData (::moonshift::db::libpq::lib().PQputCopyData)
#define PQputCopyEnd (::moonshift::db::libpq::lib().PQputCopyEnd)
#define PQresultErrorField (::moonshift::db::libpq::lib().PQresultErrorField)
#define PQresultStatus (::moonshift::db::libpq::lib().PQresultStatus)
#define PQserverVersion (::moonshift::db::libpq::lib().PQserverVersion)
#define PQsocket (::moonshift::db::libpq::lib().PQsocket)
#define PQstatus (::moonshift::db::libpq::lib().PQstatus)
#define PQtransactionStatus (::moonshift::db::libpq::lib().PQtransactionStatus)
#define PQuser (::moonshift::db::libpq::lib().PQuser)
#endif
