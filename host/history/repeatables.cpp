// Repeatable migrations' rows in the history schema (repeatables.hpp).
#include "history/repeatables.hpp"

#include "db/quote.hpp"

namespace moonshift::history {

std::map<std::string, std::string> recorded_repeatables(db::session& s, const store& st) {
    std::map<std::string, std::string> out;
    auto table = st.table("repeatables");
    if (!s.query("SELECT to_regclass($1) IS NOT NULL", table)[0][0].as<bool>()) return out;
    for (auto row : s.query("SELECT name, checksum FROM " + table))
        out[row[0].c_str()] = row[1].c_str();
    return out;
}

std::string record_repeatable_sql(const store& st, const repeatable& r) {
    using db::quote::literal;
    bool imported = r.how == "imported";
    return "INSERT INTO " + st.table("repeatables") +
           " (name, checksum, how, applied_by, duration_ms, environment, run_id) VALUES (" +
           literal(r.name) + ", " + literal(r.checksum) + ", " + literal(r.how) + ", " +
           literal(r.applied_by) + ", " + std::to_string(r.duration_ms) + ", " +
           literal(r.environment) + ", " + (r.run_id ? std::to_string(r.run_id) : "NULL") +
           (imported ? ") ON CONFLICT (name) DO NOTHING"
                     : ") ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, how = "
                       "'applied', applied_at = clock_timestamp(), applied_by = "
                       "EXCLUDED.applied_by, duration_ms = EXCLUDED.duration_ms, environment = "
                       "EXCLUDED.environment, run_id = EXCLUDED.run_id");
}

}  // namespace moonshift::history
