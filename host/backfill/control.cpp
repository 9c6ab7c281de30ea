// Status, pause/resume and before-images of backfills (control.hpp); the
// rows themselves are history's (history/backfills.hpp).
#include "backfill/control.hpp"

#include <cmath>

#include "common/error.hpp"
#include "db/quote.hpp"
#include "history/backfills.hpp"

namespace moonshift::backfill {

nlohmann::json status(db::session& s, const std::string& schema_quoted) {
    history::backfills book(s, schema_quoted);
    auto out = nlohmann::json::array();
    if (!book.present()) return out;
    for (const auto& b : book.list()) {
        std::string state = b.state;
        if (!b.alive && state != "failed") state = "interrupted";
        nlohmann::json j = {{"version", b.version},
                            {"part", b.part},
                            {"table", b.table},
                            {"state", state},
                            {"pause_requested", b.pause_requested},
                            {"rows_done", b.rows_done},
                            {"alive", b.alive},
                            {"updated_at", b.updated_at},
                            {"message", b.message}};
        j["rows_total"] = b.rows_total ? nlohmann::json(*b.rows_total) : nlohmann::json(nullptr);
        j["rows_per_second"] = std::round(b.rows_per_second);
        j["batch_size"] = b.batch_size;
        if (b.rows_total && b.rows_per_second > 0 && b.alive)
            j["eta_s"] = std::round(std::max(
                0.0, (static_cast<double>(*b.rows_total) - static_cast<double>(b.rows_done)) /
                         b.rows_per_second));
        else
            j["eta_s"] = nullptr;
        out.push_back(j);
    }
    return out;
}

int set_paused(db::session& s, const std::string& schema_quoted, const std::string& version,
               bool paused) {
    history::backfills book(s, schema_quoted);
    return book.present() ? book.set_paused(version, paused) : 0;
}

bool has_before(db::session& s, const std::string& schema_quoted, const std::string& version) {
    history::backfills book(s, schema_quoted);
    return book.present() && book.has_before(version);
}

long long restore_before(db::session& s, const std::string& schema_quoted,
                         const std::string& version) {
    history::backfills book(s, schema_quoted);
    if (!book.present()) return 0;
    long long restored = 0;
    // Newest backfill first, so an older image of the same row wins at the end.
    for (const auto& images : book.before(version)) {
        auto types = s.query(
            "SELECT attname, quote_ident(attname), format_type(atttypid, atttypmod) "
            "FROM pg_attribute "
            "WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
            images.table);
        auto type_of = [&](const std::string& name, std::string& quoted) -> std::string {
            for (const auto& r : types)
                if (name == r[0].view()) {
                    quoted = r[1].as<std::string>();
                    return r[2].as<std::string>();
                }
            throw error(exit_code::migration_failed,
                        "cannot restore the before-image of " + images.table + ": column \"" +
                            name + "\" is gone",
                        "restore it before the column is dropped (down runs the restore first)");
        };
        std::string sets, join;
        for (auto& col : images.columns) {
            std::string q, ty = type_of(col, q);
            sets += (sets.empty() ? "" : ", ") + q + " = (b.before ->> " + db::quote::literal(col) +
                    ")::" + ty;
        }
        for (auto& k : images.keys) {
            std::string q, ty = type_of(k, q);
            join += " AND t." + q + " = (b.key ->> " + db::quote::literal(k) + ")::" + ty;
        }
        restored +=
            s.query("UPDATE " + images.table + " t SET " + sets + " FROM " + book.before_table() +
                        " b WHERE b.version = $1 AND b.part = $2" + join,
                    version, images.part)
                .affected_rows();
    }
    book.forget_before(version);
    return restored;
}

}  // namespace moonshift::backfill
