// Cancelling the server statement when a signal asks the run to stop: every
// open session keeps its PGcancel in a slot that the signal handler's hook
// (common/interrupt.hpp) walks with PQcancel, which libpq documents as safe
// to call from a signal handler.
#pragma once
#include "db/pq_lazy.hpp"

namespace moonshift::db::cancel {

// Takes a slot for this connection's cancel request (and sets the hook on
// first use); returns the slot, or -1 when all are taken (the session then
// cannot be cancelled, only abandoned).
int enroll(PGconn* c) noexcept;
// Frees the slot, waiting for a handler that is using it.
void withdraw(int slot) noexcept;

// Throws error(interrupted or terminated) when a signal asked to stop and
// no cleanup is under way: called before every statement.
void refuse_when_stopping();

}  // namespace moonshift::db::cancel
