// The SQL of one batch (batch.hpp).
#include "backfill/batch.hpp"

#include <algorithm>
#include <cstdlib>
#include <iterator>

#include "db/quote.hpp"
#include "history/backfills.hpp"
#include "lua/runtime.hpp"

namespace moonshift::backfill {
namespace {

std::string unescape(const char* p, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        if (p[i] != '\\' || i + 1 == n) {
            out += p[i];
            continue;
        }
        char c = p[++i];
        out += c == 'n'   ? '\n'
               : c == 't' ? '\t'
               : c == 'r' ? '\r'
               : c == 'b' ? '\b'
               : c == 'f' ? '\f'
               : c == 'v' ? '\v'
                          : c;
    }
    return out;
}

std::string where_part(const batch_input& in) {
    return in.s.where.empty() ? "" : " AND (" + in.s.where + ")";
}

// Saves the old values of the changed columns of the rows `source` ("FROM
// … t …") names; the first image of a row wins.
std::string before_insert(const batch_input& in, const std::string& source) {
    const target& t = in.t;
    std::string key_obj, before_obj;
    for (std::size_t i = 0; i < t.key.size(); ++i)
        key_obj += (i ? ", " : "") + db::quote::literal(t.key[i].name) + ", t." + t.key[i].quoted +
                   "::text";
    for (std::size_t i = 0; i < t.changed.size(); ++i)
        before_obj += (i ? ", " : "") + db::quote::literal(t.changed[i].name) + ", t." +
                      t.changed[i].quoted + "::text";
    return history::backfills::keep_before_sql(in.j.schema_quoted, in.j.version, in.j.part,
                                               t.qualified, "jsonb_build_object(" + key_obj + ")",
                                               "jsonb_build_object(" + before_obj + ")", source);
}

// The batch's last key, and how many rows the batch holds (`seen`): an index
// walk, never a sort of the batch. An integer key: its max over the batch's
// keys, in one aggregate. Any other key: the size-th key after `after`
// (OFFSET, the walk skips the rest); when fewer rows are left, the last of
// them with their count.
bool last_key(const batch_input& in, batch_result& out) {
    const target& t = in.t;
    const std::string from = " FROM " + t.qualified + " t WHERE " + after_condition(t, in.after) +
                             where_part(in) + " ORDER BY " + key_list(t, "t.");
    const std::string limit = " LIMIT " + std::to_string(in.size);
    static const char* integers[] = {"smallint", "integer", "bigint"};
    if (t.key.size() == 1 &&
        std::find(std::begin(integers), std::end(integers), t.key[0].type) != std::end(integers)) {
        auto r = in.db.query("SELECT count(*), max(b." + t.key[0].quoted + ")::text FROM (SELECT " +
                             key_list(t, "t.") + from + limit + ") b");
        out.seen = r[0][0].as<long long>();
        if (out.seen == 0) return false;
        out.last.emplace_back(r[0][1].as<std::string>());
        return true;
    }
    std::string as_text, last_cols, order_desc;
    for (std::size_t i = 0; i < t.key.size(); ++i) {
        as_text += (i ? ", " : "") + std::string("t.") + t.key[i].quoted + "::text";
        last_cols += (i ? ", " : "") + std::string("b.") + t.key[i].quoted + "::text";
        order_desc += (i ? ", " : "") + std::string("b.") + t.key[i].quoted + " DESC";
    }
    auto r = in.db.query("SELECT " + as_text + from + " OFFSET " + std::to_string(in.size - 1) +
                         " LIMIT 1");
    long long seen = in.size;
    if (r.empty()) {  // the end of the table: fewer than size rows left
        r = in.db.query("SELECT " + last_cols + ", count(*) OVER () FROM (SELECT " +
                        key_list(t, "t.") + from + limit + ") b ORDER BY " + order_desc +
                        " LIMIT 1");
        if (r.empty()) return false;
        seen = r[0][static_cast<int>(t.key.size())].as<long long>();
    }
    out.seen = seen;
    for (std::size_t i = 0; i < t.key.size(); ++i)
        out.last.emplace_back(r[0][static_cast<int>(i)].as<std::string>());
    return true;
}

}  // namespace

// The batch's last key first, then one UPDATE of the key range (after,
// last]: a range scan, whatever the plan of a join would be. Rows inserted
// into the range meanwhile that match `where` are changed too, which is what
// they need.
batch_result set_batch(const batch_input& in) {
    const target& t = in.t;
    batch_result out;
    if (!last_key(in, out)) return out;
    std::string range =
        after_condition(t, in.after) + " AND " + key_condition(t, out.last, "<=") + where_part(in);
    std::string sets;
    for (std::size_t i = 0; i < in.s.set.size(); ++i)
        sets +=
            (i ? ", " : "") + t.find(in.s.set[i].first)->quoted + " = (" + in.s.set[i].second + ")";
    std::string sql;
    if (in.s.keep_before)
        sql =
            "WITH kb AS (" + before_insert(in, "FROM " + t.qualified + " t WHERE " + range) + ") ";
    out.changed = in.db.query(sql + "UPDATE " + t.qualified + " t SET " + sets + " WHERE " + range)
                      .affected_rows();
    return out;
}

// Rows out with COPY, the Lua function per row, results back with COPY into
// a temporary table (emptied at each commit), one UPDATE … FROM.
batch_result transform_batch(const batch_input& in) {
    target& t = in.t;
    std::string cols;
    lua::transform_batch b;
    for (std::size_t i = 0; i < t.columns.size(); ++i) {
        cols += (i ? ", " : "") + std::string("t.") + t.columns[i].quoted;
        b.columns.push_back(t.columns[i].name);
        b.oids.push_back(t.columns[i].oid);
    }
    for (auto& k : t.key)  // in key order
        for (std::size_t i = 0; i < t.columns.size(); ++i)
            if (t.columns[i].name == k.name) b.key_fields.push_back(static_cast<int>(i));
    for (auto& col : t.changed) b.out_columns.push_back(col.name);
    std::vector<std::string> lines;
    std::string sql = "COPY (SELECT " + cols + " FROM " + t.qualified + " t WHERE " +
                      after_condition(t, in.after) + where_part(in) + " ORDER BY " +
                      key_list(t, "t.") + " LIMIT " + std::to_string(in.size) + ") TO STDOUT";
    in.db.copy_out(sql, sql, [&](const char* d, std::size_t n) { lines.emplace_back(d, n); });
    batch_result out;
    if (lines.empty()) return out;
    out.seen = static_cast<long long>(lines.size());
    // The position: the key of the last row looked at, changed or not.
    const std::string& last = lines.back();
    std::vector<std::pair<std::size_t, std::size_t>> spans;
    std::size_t start = 0;
    for (std::size_t i = 0; i < t.columns.size(); ++i) {
        std::size_t end = last.find('\t', start);
        if (end == std::string::npos) end = last.size();
        spans.emplace_back(start, end - start);
        start = end + 1;
    }
    for (int f : b.key_fields)
        out.last.push_back(unescape(last.data() + spans[f].first, spans[f].second));
    b.lines = &lines;
    lua::migration_info info{in.j.version, in.j.name};
    in.j.lua->transform(in.s, b, &info);
    if (t.changed.empty() && !b.out_columns.empty()) check_changed(t, in.s, b.out_columns);
    if (b.changed > 0) {
        std::string defs, join, targets;
        for (std::size_t i = 0; i < t.key.size(); ++i) {
            std::string k = "__ms_k" + std::to_string(i + 1);
            defs += (i ? ", " : "") + k + " " + t.key[i].type;
            join += (i ? " AND " : "") + std::string("t.") + t.key[i].quoted + " = s." + k;
        }
        for (std::size_t i = 0; i < t.changed.size(); ++i) {
            defs += ", " + t.changed[i].quoted + " " + t.changed[i].type;
            targets += (i ? ", " : "") + t.changed[i].quoted + " = s." + t.changed[i].quoted;
        }
        in.db.exec_script("CREATE TEMP TABLE IF NOT EXISTS " + in.temp + " (" + defs +
                          ") ON COMMIT DELETE ROWS");
        bool sent = false;
        in.db.copy_in("COPY " + in.temp + " FROM STDIN", "COPY " + in.temp,
                      [&](std::string& buffer) {
                          if (!sent) buffer += b.out;
                          sent = true;
                          return false;
                      });
        if (in.s.keep_before)
            in.db.query(
                before_insert(in, "FROM " + t.qualified + " t JOIN " + in.temp + " s ON " + join));
        // The batch's key range as well, so the plan walks the key's index.
        out.changed =
            in.db
                .query("UPDATE " + t.qualified + " t SET " + targets + " FROM " + in.temp +
                       " s WHERE " + join + " AND " + after_condition(t, in.after) + " AND " +
                       key_condition(t, out.last, "<="))
                .affected_rows();
    }
    return out;
}

}  // namespace moonshift::backfill
