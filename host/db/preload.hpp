// For a command that will connect: libpq's module (pq_lazy.hpp) loaded on a
// thread of its own while the command reads moonshift.toml and the migrations
// folder, so that the first connection does not wait for the loading (about
// 7 ms of libraries and relocations). A module that cannot be loaded is
// reported by the connection, as without it.
#pragma once

namespace moonshift::db {

void load_libpq_in_background();

}  // namespace moonshift::db
