-- The CI hook, for GitHub Actions: an `::error file=…,line=…::` annotation
-- for a failed migration (GitHub shows it on the file in the pull request),
-- and the run as a table in the job's summary ($GITHUB_STEP_SUMMARY).
-- Outside GitHub Actions (GITHUB_ACTIONS is not "true") it does nothing.
--
--   [notify.ci]
--   summary = true       # the job summary
--   annotations = true   # the ::error lines

local function present(v)
  return v ~= nil and v ~= json.null
end

local function in_github()
  return env.get("GITHUB_ACTIONS") == "true"
end

local function duration(ms)
  if not present(ms) then return "" end
  if ms < 1000 then return string.format("%d ms", ms) end
  if ms < 60000 then return string.format("%.2f s", ms / 1000) end
  return string.format("%dm%02ds", math.floor(ms / 60000), math.floor(ms % 60000 / 1000))
end

-- Workflow commands: % CR LF are escaped in the message; properties also : and ,.
local function escape_data(s)
  s = tostring(s):gsub("%%", "%%25")
  s = s:gsub("\r", "%%0D")
  return (s:gsub("\n", "%%0A"))
end

local function escape_property(s)
  s = escape_data(s)
  s = s:gsub(":", "%%3A")
  return (s:gsub(",", "%%2C"))
end

-- Paths in annotations are relative to the repository, not the project.
local function repo_path(ev, file)
  local dir = ev.run.project_dir
  if present(dir) and dir ~= "" then return dir .. "/" .. file end
  return file
end

local function annotate(ev, err, title)
  local props = {}
  if present(err.file) and not err.file:find("^builtin:") then
    props[#props + 1] = "file=" .. escape_property(repo_path(ev, err.file))
    if present(err.line) then props[#props + 1] = "line=" .. err.line end
    if present(err.column) then props[#props + 1] = "col=" .. err.column end
  end
  props[#props + 1] = "title=" .. escape_property(title)
  local message = err.message
  if present(err.sqlstate) then message = message .. " (" .. err.sqlstate .. ")" end
  if present(err.hint) then message = message .. "\nHINT: " .. err.hint end
  print("::error " .. table.concat(props, ",") .. "::" .. escape_data(message))
end

local function cell(s)
  return (tostring(s):gsub("|", "\\|"):gsub("\n", " "))
end

local marks = { ok = "✅", failed = "❌", rolled_back = "↩️", refused = "⛔", drift = "⚠️", verify_failed = "🔍", rollback_failed = "🚨", check_failed = "⛔" }

local function summary(ev)
  local run = ev.run
  local out = {}
  out[#out + 1] = string.format("### %s moonshift %s on %s: %s%s", marks[ev.outcome] or "ℹ️", run.command,
    run.environment, ev.outcome, run.test and " (test)" or "")
  out[#out + 1] = ""
  out[#out + 1] = "| Run | By | Commit | Duration |"
  out[#out + 1] = "|---|---|---|---|"
  local commit = present(run.commit) and ("`" .. run.commit:sub(1, 7) .. "`") or ""
  if present(run.branch) and commit ~= "" then commit = commit .. " (" .. cell(run.branch) .. ")" end
  out[#out + 1] = string.format("| #%s | %s | %s | %s |", tostring(run.id), cell(run.actor), commit,
    duration(ev.duration_ms))
  if #ev.migrations > 0 then
    out[#out + 1] = ""
    out[#out + 1] = "| Migration | Status | Duration |"
    out[#out + 1] = "|---|---|---|"
    for _, m in ipairs(ev.migrations) do
      out[#out + 1] = string.format("| `%s_%s` | %s | %s |", cell(m.version), cell(m.name), m.status,
        duration(m.duration_ms))
    end
  end
  if present(ev.error) then
    local err = ev.error
    local at = present(err.file) and (" in `" .. err.file .. (present(err.line) and (":" .. err.line) or "") .. "`") or ""
    out[#out + 1] = ""
    out[#out + 1] = "**Error**" .. at .. ":"
    out[#out + 1] = ""
    out[#out + 1] = "```"
    out[#out + 1] = err.message .. (present(err.sqlstate) and (" (" .. err.sqlstate .. ")") or "")
    out[#out + 1] = "```"
  end
  return table.concat(out, "\n") .. "\n"
end

return {
  ["migration.failed"] = function(ev)
    if not in_github() or ev.settings.annotations == false or not present(ev.error) then return end
    local m = ev.migration
    local name = present(m) and (m.version .. "_" .. m.name) or "migration"
    annotate(ev, ev.error, "moonshift: " .. name .. " failed on " .. ev.run.environment)
  end,

  ["run.finish"] = function(ev)
    if not in_github() then return end
    local s = ev.settings
    -- A run stopped before any migration (lint, drift, a gate) has no migration.failed to annotate.
    if s.annotations ~= false and ev.outcome ~= "ok" and present(ev.error) and ev.counts.failed == 0 then
      annotate(ev, ev.error, "moonshift " .. ev.run.command .. " on " .. ev.run.environment .. ": " .. ev.outcome)
    end
    if s.summary ~= false then ci.summary(summary(ev)) end
  end,
}
