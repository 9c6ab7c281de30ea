// `moonshift testdb` (docs/testdb.md): a fresh database at the project's head
// for a test, cloned with CREATE DATABASE … TEMPLATE from a template migrated
// once through `up` and named after what it holds. No bookkeeping table: the
// server's catalog of databases is the record, and every name says whose it is.
#pragma once
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.hpp"

namespace moonshift::testdb {

// The names testdb gives (testdb_names.cpp). `project` is a slug of
// [a-z0-9_]: moonshift_tpl_<project>_<hash12> for templates (…_s with
// seeds: a project keeps one of each, so alternating calls do not rebuild),
// moonshift_test_<project>_<created>_<random> for test databases
// (moonshift_keep_… with --keep), <created> in base-36 Unix seconds,
// moonshift_spare_<project>_<hash12>[_s]_<random> for the spare clones of
// that template kept ready (its hash: a spare of an old template is never
// handed out).
std::string project_slug(const project::config& cfg, const catalog::catalog& cat);
std::string template_name(const std::string& project, const std::string& hash12, bool seeded);
std::string spare_name(const std::string& project, const std::string& hash12, bool seeded);
std::string database_name(const std::string& project, bool keep,
                          std::chrono::system_clock::time_point created);

// What a name says; nullopt for a name testdb did not make.
struct parsed_name {
    bool is_template = false;
    bool is_spare = false;
    bool seeded = false;  // a template (or its spare) with the seeds
    bool kept = false;
    std::string project;
    std::string hash12;                                            // templates, spares
    std::optional<std::chrono::system_clock::time_point> created;  // test databases
};
std::optional<parsed_name> parse_name(const std::string& name);
// The template a spare was cloned from.
std::string template_of_spare(const parsed_name& spare);

// The first 12 hex digits of a SHA-256 over the host schema's digest, the
// history schema's name and key, every migration (baselines and repeatables
// too) by version, name and checksum, and with seeds their files' names and
// contents.
std::string content_hash(const project::config& cfg, const catalog::catalog& cat,
                         const std::vector<std::pair<std::string, std::string>>& seeds);

struct options {
    bool seed = false;  // the template also holds the environment's seeds
    bool keep = false;  // a name `prune` leaves alone
    // Spares of the template to keep ready ([testdb] spares, --spares); 0:
    // none, every call clones.
    int spares = 2;
};

struct made {
    std::string database;           // the new test database
    std::string url;                // the environment's URL with it, no password
    bool password_omitted = false;  // the environment's URL has one, not shown
    std::string template_name;
    bool built = false;                          // this call migrated the template
    int migrations = 0;                          // what the template holds
    std::vector<std::string> dropped_templates;  // the project's older templates
    std::vector<std::string> warnings;           // e.g. an old template still in use
    long long build_ms = 0, clone_ms = 0;        // clone_ms: the rename when a spare was claimed
    bool spare_claimed = false;                  // renamed from a spare, not cloned
    int spares_left = 0;                         // this template's spares after this call
};

// `note` receives progress for people (the template being built, waits).
using note_fn = std::function<void(const std::string&)>;

// Refuses production and read-only environments and a role without
// CREATEDB (usage_error naming the GRANT). ctx.on_event receives the events
// of the template's `up` run (no notification hooks: the template is a
// private database no one watches).
made create(const engine::context& ctx, const options& o, const note_fn& note);

// `testdb drop URL|NAME`: only a name testdb made (usage_error otherwise),
// WITH (FORCE) where the server has it. False when it did not exist.
bool drop(const engine::context& ctx, const std::string& url_or_name, std::string& name);

// `testdb refill` (the detached child a call starts when it left fewer than
// o.spares): clones the template into spares until there are o.spares of
// it, one refill at a time per template (an advisory lock; a refill that
// finds it taken leaves the work to its holder, which looks again after
// letting go), and drops this kind's spares of other templates. Does nothing
// when the template is not built. Returns how many it made.
int refill(const engine::context& ctx, const options& o);

struct prune_options {
    std::chrono::minutes older_than{60};
    bool kept = false;       // also databases made with --keep
    bool templates = false;  // also the project's templates and their spares
    bool dry_run = false;
};
struct pruned {
    std::vector<std::string> dropped;
    std::vector<std::string> in_use;  // skipped: a session is connected
};
pruned prune(const engine::context& ctx, const prune_options& o);

}  // namespace moonshift::testdb
