// The run's lease (lease.hpp, docs/poolers.md).
#include "history/lease.hpp"

#include "common/embedded.hpp"
#include "db/quote.hpp"
#include "db/transaction.hpp"

namespace moonshift::history {

lease::lease(db::session& s, std::string schema, std::string token, std::string holder)
    : s_(s),
      schema_(std::move(schema)),
      quoted_(db::quote::ident(schema_)),
      token_(std::move(token)),
      holder_(std::move(holder)) {}

std::optional<std::string> lease::take(std::chrono::seconds ttl) {
    const std::string table = quoted_ + ".lease";
    db::transaction tx(s_);
    // Two runs taking it at once take turns here; the lock ends with the
    // transaction, so it holds through any pooler.
    s_.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "moonshift-lease:" + schema_);
    if (s_.query("SELECT to_regclass($1) IS NULL", table)[0][0].as<bool>()) {
        // The same table as migrations/0007_lease.sql, which finds it there.
        std::string sql(embedded::find("migrations/0007_lease.sql").value_or(""));
        for (auto p = sql.find("{{schema}}"); p != std::string::npos; p = sql.find("{{schema}}"))
            sql.replace(p, 10, quoted_);
        s_.exec_script("CREATE SCHEMA IF NOT EXISTS " + quoted_ + ";" + sql);
    }
    auto got = s_.query(
        "INSERT INTO " + table +
            " AS l (name, token, holder, expires_at)"
            " VALUES ('run', $1, $2, clock_timestamp() + $3 * interval '1 second')"
            " ON CONFLICT (name) DO UPDATE SET token = EXCLUDED.token, holder = EXCLUDED.holder,"
            "   taken_at = clock_timestamp(), renewed_at = clock_timestamp(),"
            "   expires_at = EXCLUDED.expires_at"
            " WHERE l.expires_at < clock_timestamp() OR l.token = EXCLUDED.token"
            " RETURNING token",
        token_, holder_, static_cast<long long>(ttl.count()));
    if (!got.empty()) {
        tx.commit();
        return std::nullopt;
    }
    auto who = s_.query(
        "SELECT holder, ceil(extract(epoch FROM expires_at - clock_timestamp()))"
        "::bigint FROM " +
        table + " WHERE name = 'run'");
    tx.commit();
    if (who.empty()) return std::string("another run");
    return who[0][0].as<std::string>() + ", renewed until " + who[0][1].as<std::string>() +
           " s from now";
}

bool lease::renew(std::chrono::seconds ttl) {
    db::transaction tx(s_);
    auto r = s_.query("UPDATE " + quoted_ +
                          ".lease SET renewed_at = clock_timestamp(),"
                          " expires_at = clock_timestamp() + $2 * interval '1 second'"
                          " WHERE name = 'run' AND token = $1",
                      token_, static_cast<long long>(ttl.count()));
    tx.commit();
    return r.affected_rows() == 1;
}

void lease::release() {
    s_.query("DELETE FROM " + quoted_ + ".lease WHERE name = 'run' AND token = $1", token_);
}

}  // namespace moonshift::history
