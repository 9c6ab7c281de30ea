// The server side of `moonshift testdb` shared by its calls and its refill:
// reading a template's state, cloning, and the pool of spare clones — made
// ahead by a detached `testdb refill` and claimed by a call with one
// ALTER DATABASE … RENAME (atomic: of two callers racing for a spare, one
// gets it and the other tries the next).
#include <algorithm>
#include <random>
#include <thread>

#include "db/quote.hpp"
#include "engine/seed.hpp"
#include "engine/testdb_detail.hpp"

namespace moonshift::testdb {
namespace detail {

using std::chrono::milliseconds;

std::unique_ptr<db::session> connect(const engine::context& ctx) {
    db::settings s;
    s.url = ctx.url;
    s.pooler = db::parse_pooler_mode(ctx.env.pooler.value_or(ctx.cfg.pooler));
    return std::make_unique<db::session>(s);
}

std::string drop_sql(db::session& s, const std::string& name, bool force) {
    return "DROP DATABASE IF EXISTS " + db::quote::ident(name) +
           (force && s.server_version() >= 130000 ? " WITH (FORCE)" : "");
}

state read_state(db::session& s, const std::string& tpl) {
    auto r = s.query(
        "SELECT r.rolcreatedb OR r.rolsuper, current_user::text,"
        "       (SELECT d.datistemplate FROM pg_database d WHERE d.datname = $1),"
        "       (SELECT string_agg(d.datname::text, ' ') FROM pg_database d"
        "         WHERE d.datname LIKE 'moonshift\\_spare\\_%' AND d.datdba = r.oid)"
        "  FROM pg_roles r WHERE r.rolname = current_user",
        tpl);
    state st;
    if (r.empty()) return st;
    st.may_create = r[0][0].as<bool>(false);
    st.role = r[0][1].as<std::string>("");
    st.exists = !r[0][2].is_null();
    st.ready = r[0][2].as<bool>(false);
    std::string all = r[0][3].as<std::string>(""), name;
    for (char c : all + ' ') {
        if (c != ' ') {
            name += c;
        } else if (!name.empty()) {
            st.spares.push_back(name);
            name.clear();
        }
    }
    return st;
}

std::vector<std::string> spares_for(const std::vector<std::string>& names, const std::string& tpl) {
    std::vector<std::string> out;
    for (const auto& name : names) {
        auto p = parse_name(name);
        if (p && p->is_spare && template_of_spare(*p) == tpl) out.push_back(name);
    }
    return out;
}

bool clone(db::session& s, const std::string& tpl, const std::string& name) {
    for (int attempt = 1;; ++attempt) {
        try {
            s.query("CREATE DATABASE " + db::quote::ident(name) + " TEMPLATE " +
                    db::quote::ident(tpl));
            return true;
        } catch (const db::sql_failure& f) {
            if (f.info().sqlstate == "3D000") return false;           // invalid_catalog_name
            if (f.info().sqlstate != "55006" || attempt >= 5) throw;  // object_in_use
            std::this_thread::sleep_for(milliseconds(50 * attempt));
        }
    }
}

bool claim(db::session& s, std::vector<std::string> spares, const std::string& name) {
    static thread_local std::mt19937_64 gen{std::random_device{}()};
    std::shuffle(spares.begin(), spares.end(), gen);  // racing callers start apart
    for (const auto& spare : spares) {
        try {
            s.query("ALTER DATABASE " + db::quote::ident(spare) + " RENAME TO " +
                    db::quote::ident(name));
            return true;
        } catch (const db::sql_failure& f) {
            // Taken by another caller (3D000), a session in it (55006), not
            // ours to rename (42501): the next one, else a clone.
            const auto& code = f.info().sqlstate;
            if (code != "3D000" && code != "55006" && code != "42501") throw;
        }
    }
    return false;
}

std::vector<std::string> drop_stale_spares(db::session& s, const std::string& tpl) {
    auto kind = parse_name(tpl);
    std::vector<std::string> dropped;
    for (const auto& name : read_state(s, tpl).spares) {
        auto p = parse_name(name);
        if (!p || !p->is_spare || p->project != kind->project || p->seeded != kind->seeded ||
            template_of_spare(*p) == tpl)
            continue;
        try {
            s.query(drop_sql(s, name, true));
            dropped.push_back(name);
        } catch (const db::sql_failure& f) {
            if (f.info().sqlstate != "55006") throw;  // in use: the next build or prune
        }
    }
    return dropped;
}

}  // namespace detail

namespace {

using namespace detail;

// One refill at a time per template, in the two-key form of advisory locks
// (the run's locks use the one-key form: the two never meet).
bool try_lock(db::session& s, const std::string& tpl) {
    return s
        .query("SELECT pg_try_advisory_lock(hashtext('moonshift testdb spares'), hashtext($1))",
               tpl)[0][0]
        .as<bool>(false);
}
void unlock(db::session& s, const std::string& tpl) {
    s.query("SELECT pg_advisory_unlock(hashtext('moonshift testdb spares'), hashtext($1))", tpl);
}

// Clones until the template has `wanted` spares; stops when it is gone.
// Bounded: spares claimed as fast as they are made do not keep it forever.
int fill(db::session& s, const std::string& tpl, int wanted) {
    auto kind = parse_name(tpl);
    int made = 0;
    for (int i = 0; i < 2 * wanted + 2; ++i) {
        auto st = read_state(s, tpl);
        if (!st.ready || static_cast<int>(spares_for(st.spares, tpl).size()) >= wanted) break;
        if (!clone(s, tpl, spare_name(kind->project, kind->hash12, kind->seeded))) break;
        ++made;
    }
    return made;
}

}  // namespace

int refill(const engine::context& ctx, const options& o) {
    if (o.spares <= 0) return 0;
    const auto tpl = target_of(ctx, o.seed).tpl;
    auto s = connect(ctx);
    s->exec_script("SET application_name = 'moonshift testdb refill'");
    int made = 0;
    // A call that claims while this one holds the lock starts a refill that
    // finds it taken and leaves: looking again after letting go covers it.
    for (int pass = 0; pass < 3; ++pass) {
        if (!try_lock(*s, tpl)) break;
        if (pass == 0) drop_stale_spares(*s, tpl);
        made += fill(*s, tpl, o.spares);
        unlock(*s, tpl);
        auto st = read_state(*s, tpl);
        if (!st.ready || static_cast<int>(spares_for(st.spares, tpl).size()) >= o.spares) break;
    }
    return made;
}

}  // namespace moonshift::testdb
