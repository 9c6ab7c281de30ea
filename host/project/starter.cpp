// The commented starter moonshift.toml that `moonshift init` writes.
#include "project/config.hpp"

namespace moonshift::project {

std::string starter_config() {
    return R"(# moonshift.toml — the project's migration settings.
# Reference: docs/configuration.md

[project]
# Where the versioned migrations live (NNN_name.sql, NNN_name.down.sql, ...).
migrations = "migrations"
# The schema where moonshift keeps its history (migrations, runs, ...).
schema = "moonshift"
# Which environment a command uses when --env is not given.
default_env = "local"
# How long to wait for another run's migration lock before giving up (exit 4).
lock_wait = "30s"

# A private PostgreSQL for this project: `moonshift local start`.
[env.local]
local = true

# Staging and production read their URLs from the environment or a .env file;
# ${VAR} is replaced, and a missing variable is an error naming it.
# [env.staging]
# url = "${STAGING_DATABASE_URL}"
# lock_timeout = "5s"          # give up on a lock instead of queueing traffic behind it
# statement_timeout = "10min"
#
# [env.production]
# url = "${PRODUCTION_DATABASE_URL}"
# dotenv = ".env.production"
# lock_timeout = "3s"
# statement_timeout = "10min"
# approve = true               # type its name on a terminal, or --yes (docs/environments.md)
# promote_from = "staging"     # only what staging applied and verified, same checksums
# window = "Mon-Fri 01:00-05:00 UTC"
# watch = { seconds = 300, every = 10 }   # rollback triggers after `up`
#
# [env.production.triggers.health]
# kind = "http"
# url = "https://api.example.com/health"

# Notifications (docs/hooks.md): built-in console, slack, email, webhook and ci
# hooks, or your own Lua files in hooks/. Check them with `moonshift notify test`.
# [notify.console]
#
# [notify.slack]
# webhook_url = "${SLACK_WEBHOOK_URL}"
#
# [env.production.notify.slack]
# required = true              # a failed delivery fails the run (exit 3)
)";
}

}  // namespace moonshift::project
