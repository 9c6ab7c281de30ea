-- The Slack hook: one readable Block Kit message per run, posted to an
-- incoming webhook — environment, outcome, the migrations with their
-- durations, the error with file:line, the commit and the CI run.
--
--   [notify.slack]
--   webhook_url = "${SLACK_WEBHOOK_URL}"   # required; a secret: never shown
--   channel = "#deploys"                   # optional: the webhook's own channel otherwise
--   mention = "<!here>"                    # optional: added when a run did not end ok
--   only_failures = false                  # true: stay quiet when a run ends ok
--   timeout = "10s"                        # per attempt; retries = 2 more after the first

local function present(v)
  return v ~= nil and v ~= json.null
end

local function duration(ms)
  if not present(ms) then return "?" end
  if ms < 1000 then return string.format("%d ms", ms) end
  if ms < 60000 then return string.format("%.2f s", ms / 1000) end
  return string.format("%dm%02ds", math.floor(ms / 60000), math.floor(ms % 60000 / 1000))
end

-- Slack's mrkdwn needs &, < and > escaped everywhere, code included.
local function esc(s)
  s = tostring(s):gsub("&", "&amp;")
  s = s:gsub("<", "&lt;")
  return (s:gsub(">", "&gt;"))
end

local function cut(s, n)
  if #s <= n then return s end
  return s:sub(1, n - 3) .. "..."
end

local marks = { ok = "✅", failed = "❌", rolled_back = "↩️", refused = "⛔", drift = "⚠️", verify_failed = "🔍", rollback_failed = "🚨", check_failed = "⛔" }
local verbs = { applied = "applied", failed = "failed", reverted = "reverted", running = "did not finish" }
local max_listed = 15

local function title(ev)
  local run = ev.run
  local text = string.format("%s moonshift %s on %s: %s", marks[ev.outcome] or "ℹ️", run.command,
    run.environment, ev.outcome)
  -- A rollback says why in the first line: the trigger and its figures.
  if (ev.outcome == "rolled_back" or ev.outcome == "rollback_failed") and present(ev.error) then
    text = text .. " — " .. ev.error.message
  end
  if run.test then text = text .. " (test)" end
  return text
end

local function summary(ev)
  local c, parts = ev.counts, {}
  if c.applied > 0 then parts[#parts + 1] = c.applied .. " applied" end
  if c.reverted > 0 then parts[#parts + 1] = c.reverted .. " reverted" end
  if c.failed > 0 then parts[#parts + 1] = c.failed .. " failed" end
  if #parts == 0 then parts[1] = "nothing to do" end
  return table.concat(parts, ", ") .. " in " .. duration(ev.duration_ms)
end

local function migrations_text(ev)
  local lines = {}
  for i, m in ipairs(ev.migrations) do
    if i > max_listed then
      lines[#lines + 1] = string.format("… and %d more", #ev.migrations - max_listed)
      break
    end
    local line = string.format("• `%s_%s` %s", esc(m.version), esc(m.name), verbs[m.status] or m.status)
    if present(m.duration_ms) then line = line .. " in " .. duration(m.duration_ms) end
    lines[#lines + 1] = line
  end
  return "*Migrations*\n" .. table.concat(lines, "\n")
end

local function error_text(err)
  local at = ""
  if present(err.file) then
    at = err.file
    if present(err.line) then at = at .. ":" .. err.line end
    at = " in `" .. esc(at) .. "`"
  end
  local message = err.message
  if present(err.sqlstate) then message = message .. " (" .. err.sqlstate .. ")" end
  local text = "*Error*" .. at .. "\n```" .. esc(cut(message, 2000)) .. "```"
  if present(err.hint) then text = text .. "\n_Hint:_ " .. esc(cut(err.hint, 500)) end
  return text
end

local function context(ev)
  local run, parts = ev.run, {}
  if present(run.commit) then
    local short = run.commit:sub(1, 7)
    local commit = present(run.commit_url) and ("<" .. run.commit_url .. "|" .. short .. ">") or ("`" .. short .. "`")
    if present(run.branch) then commit = commit .. " on " .. esc(run.branch) end
    parts[#parts + 1] = "commit " .. commit
  end
  if present(run.ci) and present(run.ci.url) then parts[#parts + 1] = "<" .. run.ci.url .. "|CI run>" end
  parts[#parts + 1] = "host " .. esc(run.host)
  return table.concat(parts, " · ")
end

local function message(ev, settings)
  local run = ev.run
  local text = title(ev) .. " — " .. summary(ev)
  if ev.outcome ~= "ok" and present(settings.mention) then text = settings.mention .. " " .. text end
  local blocks = {
    { type = "header", text = { type = "plain_text", text = cut(title(ev), 150), emoji = true } },
    { type = "section", fields = {
      { type = "mrkdwn", text = "*Environment*\n" .. esc(run.environment) },
      { type = "mrkdwn", text = "*Outcome*\n" .. esc(ev.outcome) .. " — " .. summary(ev) },
      { type = "mrkdwn", text = "*Run*\n#" .. tostring(run.id) .. " · " .. esc(run.command) },
      { type = "mrkdwn", text = "*By*\n" .. esc(run.actor) },
    } },
  }
  if #ev.migrations > 0 then
    blocks[#blocks + 1] = { type = "section", text = { type = "mrkdwn", text = cut(migrations_text(ev), 3000) } }
  end
  if present(ev.error) then
    blocks[#blocks + 1] = { type = "section", text = { type = "mrkdwn", text = cut(error_text(ev.error), 3000) } }
  end
  blocks[#blocks + 1] = { type = "context", elements = { { type = "mrkdwn", text = context(ev) } } }
  local payload = { text = text, blocks = blocks }
  if present(settings.channel) then payload.channel = settings.channel end
  if present(settings.username) then payload.username = settings.username end
  if present(settings.icon_emoji) then payload.icon_emoji = settings.icon_emoji end
  return payload
end

local function post(s, payload)
  if present(s.channel) then payload.channel = s.channel end
  http.post(s.webhook_url, payload, {
    timeout = present(s.timeout) and s.timeout or "10s",
    retries = present(s.retries) and s.retries or 2,
    backoff = present(s.backoff) and s.backoff or "500ms",
    ca_file = present(s.ca_file) and s.ca_file or nil,
  })
end

local function needs_webhook(ev)
  if not present(ev.settings.webhook_url) then
    error("[notify." .. ev.hook .. "] needs webhook_url, the Slack incoming webhook (https://api.slack.com/messaging/webhooks)", 0)
  end
end

return {
  -- A fleet (docs/fleet.md): one message as each wave starts, one when it is over.
  ["fleet.wave.start"] = function(ev, ctx)
    needs_webhook(ev)
    if ev.settings.only_failures == true then ctx:skip("only_failures = true") end
    local d = ev.details
    local text = string.format("%s *%s*: wave %d of %d starting on %d target%s",
      esc(ev.run.command or "fleet"), esc(d.fleet), d.wave, d.waves, d.count, d.count == 1 and "" or "s")
    if d.count <= 5 then text = text .. " (" .. esc(table.concat(d.targets, ", ")) .. ")" end
    if d.wave > 1 then text = text .. string.format(" — %d of %d done so far", d.done_before, d.total) end
    post(ev.settings, { text = text })
  end,
  ["fleet.finish"] = function(ev, ctx)
    needs_webhook(ev)
    if ev.settings.only_failures == true and ev.outcome == "ok" then ctx:skip("only_failures = true") end
    local d = ev.details
    local parts = {}
    for k, v in pairs(d.summary) do
      if k ~= "targets" then parts[#parts + 1] = v .. " " .. k end
    end
    table.sort(parts)
    local text = string.format("%s *%s*: %s — %d targets: %s in %s", esc(ev.run.command or "fleet"),
      esc(d.fleet), esc(ev.outcome), d.summary.targets, esc(table.concat(parts, ", ")), duration(ev.duration_ms))
    if present(d.failed_target) then
      text = text .. "\nStopped at *" .. esc(d.failed_target) .. "*"
      if present(ev.settings.mention) then text = ev.settings.mention .. " " .. text end
    end
    post(ev.settings, { text = text })
  end,
  ["run.finish"] = function(ev, ctx)
    local s = ev.settings
    if not present(s.webhook_url) then
      error("[notify." .. ev.hook .. "] needs webhook_url, the Slack incoming webhook (https://api.slack.com/messaging/webhooks)", 0)
    end
    if s.only_failures == true and ev.outcome == "ok" then ctx:skip("only_failures = true") end
    http.post(s.webhook_url, message(ev, s), {
      timeout = present(s.timeout) and s.timeout or "10s",
      retries = present(s.retries) and s.retries or 2,
      backoff = present(s.backoff) and s.backoff or "500ms",
      ca_file = present(s.ca_file) and s.ca_file or nil,
    })
  end,
}
