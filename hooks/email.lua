-- The e-mail hook: a plain-text and HTML mail per run, sent over SMTP
-- (STARTTLS or smtps, with AUTH).
--
--   [notify.email]
--   smtp_url = "smtp://smtp.example.com:587"   # or smtps://host:465
--   starttls = true                            # require STARTTLS on smtp://
--   user = "${SMTP_USER}"                      # AUTH; both are secrets: never shown
--   password = "${SMTP_PASSWORD}"
--   from = "moonshift <deploys@example.com>"
--   to = ["team@example.com"]                  # a string or a list; cc = [...] too
--   only_failures = false                      # true: mail only when a run did not end ok
--   subject_prefix = "[moonshift]"

local function present(v)
  return v ~= nil and v ~= json.null
end

local function duration(ms)
  if not present(ms) then return "?" end
  if ms < 1000 then return string.format("%d ms", ms) end
  if ms < 60000 then return string.format("%.2f s", ms / 1000) end
  return string.format("%dm%02ds", math.floor(ms / 60000), math.floor(ms % 60000 / 1000))
end

local function html(s)
  s = tostring(s):gsub("&", "&amp;")
  s = s:gsub("<", "&lt;")
  s = s:gsub(">", "&gt;")
  return (s:gsub('"', "&quot;"))
end

local function list(v)
  if not present(v) then return nil end
  if type(v) == "string" then return { v } end
  return v
end

local function summary(ev)
  local c, parts = ev.counts, {}
  if c.applied > 0 then parts[#parts + 1] = c.applied .. " applied" end
  if c.reverted > 0 then parts[#parts + 1] = c.reverted .. " reverted" end
  if c.failed > 0 then parts[#parts + 1] = c.failed .. " failed" end
  if #parts == 0 then parts[1] = "nothing to do" end
  return table.concat(parts, ", ")
end

local function location(err)
  if not present(err.file) then return nil end
  if present(err.line) then return err.file .. ":" .. err.line end
  return err.file
end

local function error_line(err)
  local text = err.message
  if present(err.sqlstate) then text = text .. " (" .. err.sqlstate .. ")" end
  return text
end

local function subject(ev, s)
  local prefix = present(s.subject_prefix) and s.subject_prefix or "[moonshift]"
  local run = ev.run
  local text = string.format("%s %s: %s %s", prefix, run.environment, run.command,
    ev.outcome == "ok" and "ok" or string.upper(ev.outcome))
  if present(ev.error) then
    text = text .. " — " .. error_line(ev.error)
  else
    text = text .. " — " .. summary(ev)
  end
  if run.test then text = text .. " (test)" end
  return text
end

local function facts(ev)
  local run, out = ev.run, {}
  out[#out + 1] = { "Environment", run.environment }
  out[#out + 1] = { "Outcome", ev.outcome .. " — " .. summary(ev) .. " in " .. duration(ev.duration_ms) }
  out[#out + 1] = { "Run", "#" .. tostring(run.id) .. " (" .. run.command .. ")" }
  out[#out + 1] = { "By", run.actor }
  if present(run.commit) then
    local c = run.commit:sub(1, 12)
    if present(run.branch) then c = c .. " (" .. run.branch .. ")" end
    out[#out + 1] = { "Commit", c, present(run.commit_url) and run.commit_url or nil }
  end
  if present(run.ci) and present(run.ci.url) then out[#out + 1] = { "CI", run.ci.url, run.ci.url } end
  out[#out + 1] = { "Host", run.host }
  return out
end

local function text_body(ev)
  local lines = { string.format("moonshift %s on %s: %s", ev.run.command, ev.run.environment, ev.outcome), "" }
  for _, f in ipairs(facts(ev)) do
    lines[#lines + 1] = string.format("%-12s %s", f[1] .. ":", f[2]) .. ((f[3] and f[3] ~= f[2]) and ("  " .. f[3]) or "")
  end
  if #ev.migrations > 0 then
    lines[#lines + 1] = ""
    lines[#lines + 1] = "Migrations:"
    for _, m in ipairs(ev.migrations) do
      lines[#lines + 1] = string.format("  %-40s %-9s %s", m.version .. "_" .. m.name, m.status,
        present(m.duration_ms) and duration(m.duration_ms) or "")
    end
  end
  if present(ev.error) then
    local err = ev.error
    lines[#lines + 1] = ""
    lines[#lines + 1] = "Error" .. (location(err) and (" in " .. location(err)) or "") .. ":"
    lines[#lines + 1] = "  " .. error_line(err)
    if present(err.detail) then lines[#lines + 1] = "  DETAIL: " .. err.detail end
    if present(err.hint) then lines[#lines + 1] = "  HINT: " .. err.hint end
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "-- "
  lines[#lines + 1] = "Sent by moonshift's email hook ([notify." .. ev.hook .. "] in moonshift.toml)."
  return table.concat(lines, "\n") .. "\n"
end

local colors = { ok = "#1a7f37", failed = "#cf222e", rolled_back = "#9a6700", verify_failed = "#cf222e", rollback_failed = "#cf222e" }

local function html_body(ev)
  local out = {}
  local function add(s) out[#out + 1] = s end
  add('<!DOCTYPE html><html><body style="font-family: sans-serif; font-size: 14px">')
  add(string.format('<h2 style="color: %s">moonshift %s on %s: %s</h2>', colors[ev.outcome] or "#57606a",
    html(ev.run.command), html(ev.run.environment), html(ev.outcome)))
  add('<table cellpadding="4">')
  for _, f in ipairs(facts(ev)) do
    local value = html(f[2])
    if f[3] then value = '<a href="' .. html(f[3]) .. '">' .. value .. "</a>" end
    add("<tr><th align=\"left\">" .. html(f[1]) .. "</th><td>" .. value .. "</td></tr>")
  end
  add("</table>")
  if #ev.migrations > 0 then
    add('<h3>Migrations</h3><table cellpadding="4" border="1" style="border-collapse: collapse">')
    add("<tr><th>Migration</th><th>Status</th><th>Duration</th></tr>")
    for _, m in ipairs(ev.migrations) do
      add(string.format("<tr><td><code>%s_%s</code></td><td>%s</td><td>%s</td></tr>", html(m.version), html(m.name),
        html(m.status), present(m.duration_ms) and duration(m.duration_ms) or ""))
    end
    add("</table>")
  end
  if present(ev.error) then
    local err = ev.error
    add("<h3>Error" .. (location(err) and (" in <code>" .. html(location(err)) .. "</code>") or "") .. "</h3>")
    add("<pre>" .. html(error_line(err)) .. "</pre>")
    if present(err.detail) then add("<p>DETAIL: " .. html(err.detail) .. "</p>") end
    if present(err.hint) then add("<p>HINT: " .. html(err.hint) .. "</p>") end
  end
  add("</body></html>")
  return table.concat(out, "\n") .. "\n"
end

return {
  ["run.finish"] = function(ev, ctx)
    local s = ev.settings
    local url = present(s.smtp_url) and s.smtp_url or s.url
    if not present(url) then error("[notify." .. ev.hook .. "] needs smtp_url, e.g. smtp://smtp.example.com:587", 0) end
    if not present(s.from) then error("[notify." .. ev.hook .. "] needs from, the sender's address", 0) end
    if not present(s.to) then error("[notify." .. ev.hook .. "] needs to, the recipients", 0) end
    if s.only_failures == true and ev.outcome == "ok" then ctx:skip("only_failures = true") end
    mail.send({
      url = url,
      user = present(s.user) and s.user or nil,
      password = present(s.password) and s.password or nil,
      starttls = s.starttls == true,
      ca_file = present(s.ca_file) and s.ca_file or nil,
      timeout = present(s.timeout) and s.timeout or "15s",
      retries = present(s.retries) and s.retries or 1,
    }, {
      from = s.from,
      to = list(s.to),
      cc = list(s.cc),
      subject = subject(ev, s),
      text = text_body(ev),
      html = html_body(ev),
    })
  end,
}
