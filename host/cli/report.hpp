// `--report FILE`: a Markdown report of the run a command performed, ready to
// paste into a pull request. The renderer (report_markdown.cpp) works on the
// engine's run report; the collector (report.cpp) gathers those reports from
// the command's events and result, and writes the file when it is over.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/engine.hpp"

namespace moonshift::cli::report {

// One run as Markdown: the report JSON of a run (moonshift.runs.report, or an
// outcome's report) with "command", "environment", "actor", "run",
// "outcome", "duration_ms" and "error" when known. Sections appear when their
// keys are present (applied, reverted, promotion, safety.lint, checks,
// backups, verification, verifications, watch, rolled_back, notifications,
// error); keys it does not know are listed at the end as JSON. Secrets are
// redacted.
std::string render(const nlohmann::json& run);
// Several runs (a command that performed more than one), one after another.
std::string render_all(const std::vector<nlohmann::json>& runs);

// The collector, fed while the command runs.
void note_environment(const std::string& name, const std::string& redacted_url);
void note_event(const engine::event& e);  // run.start, run.finish, migration.applied / reverted
void note_close(const nlohmann::json& report);  // the report once notification hooks amended it
void note_result(const std::string& command,
                 const nlohmann::json& report);  // a command's final result
// A command that renders its own report (`fleet`): FILE gets this text as it is.
void note_document(const std::string& text);
// Writes FILE: the runs the command performed, or — when it failed before any
// run — the command and its error. Throws error(usage) when FILE cannot be written.
void write(const std::string& file, const std::string& command, int exit_code,
           const std::string& error);
// Before the command runs: FILE's directory exists and FILE is not a
// directory, so a run is never done only to find its report cannot be kept.
// Throws error(usage).
void check_destination(const std::string& file);

}  // namespace moonshift::cli::report
