// What testdb.cpp and testdb_spares.cpp share: the connection, the state of a
// template read in one round trip, cloning and dropping. Private to engine/.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "db/session.hpp"
#include "engine/seed.hpp"
#include "engine/testdb.hpp"

namespace moonshift::testdb::detail {

std::unique_ptr<db::session> connect(const engine::context& ctx);

// The project's template for the migrations on disk (and the seeds with `seed`).
struct target {
    std::string project, tpl;
    int migrations = 0;
    std::optional<seed::source> seeds;
};
target target_of(const engine::context& ctx, bool seed);

// DROP DATABASE, ending the sessions still in it where the server can (13+).
std::string drop_sql(db::session& s, const std::string& name, bool force);

// Where the template stands, whether this role may create databases at all,
// and the spares this role owns (of every template: filter with spares_for).
struct state {
    bool may_create = false;
    std::string role;
    bool exists = false, ready = false;  // ready: marked a template, so fully migrated
    std::vector<std::string> spares;
};
state read_state(db::session& s, const std::string& tpl);

// The spares among `names` made from template `tpl`.
std::vector<std::string> spares_for(const std::vector<std::string>& names, const std::string& tpl);

// CREATE DATABASE … TEMPLATE, tried again while the template is still held by
// a session that is going away. False when the template is gone.
bool clone(db::session& s, const std::string& tpl, const std::string& name);

// Renames one of `spares` (tried in random order) to `name`; false when
// another caller took each first (or none could be renamed).
bool claim(db::session& s, std::vector<std::string> spares, const std::string& name);

// Drops the spares this role owns of the project's templates of tpl's kind
// (with or without seeds) other than `tpl`; returns the names dropped.
std::vector<std::string> drop_stale_spares(db::session& s, const std::string& tpl);

}  // namespace moonshift::testdb::detail
