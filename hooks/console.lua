-- The console hook: when a run is over, one line on the terminal that sums
-- it up — outcome, counts, time, who and which commit — and where it broke.
-- It only prints: no settings.
--
--   [notify.console]

local function present(v)
  return v ~= nil and v ~= json.null
end

local function duration(ms)
  if not present(ms) then return "?" end
  if ms < 1000 then return string.format("%d ms", ms) end
  if ms < 60000 then return string.format("%.2f s", ms / 1000) end
  return string.format("%dm%02ds", math.floor(ms / 60000), math.floor(ms % 60000 / 1000))
end

local marks = { ok = "✓", failed = "✗", rolled_back = "↩", refused = "✗", drift = "✗", verify_failed = "✗", rollback_failed = "✗", check_failed = "✗" }

return {
  ["run.finish"] = function(ev)
    local run, counts = ev.run, ev.counts
    local done = {}
    if counts.applied > 0 then done[#done + 1] = counts.applied .. " applied" end
    if counts.reverted > 0 then done[#done + 1] = counts.reverted .. " reverted" end
    if counts.failed > 0 then done[#done + 1] = counts.failed .. " failed" end
    if #done == 0 then done[1] = "nothing to do" end
    local rollback = ev.outcome == "rolled_back" or ev.outcome == "rollback_failed"
    local first = string.format("%s run %s %s: %s in %s", marks[ev.outcome] or "•", tostring(run.id),
      ev.outcome, table.concat(done, ", "), duration(ev.duration_ms))
    -- A rollback says why on its first line: the trigger and its figures.
    if rollback and present(ev.error) then first = first .. " — " .. ev.error.message end
    local parts = { first, "by " .. run.actor }
    if present(run.commit) then
      parts[#parts + 1] = "commit " .. run.commit:sub(1, 7) .. (present(run.branch) and (" (" .. run.branch .. ")") or "")
    end
    if run.test then parts[#parts + 1] = "test" end
    print(table.concat(parts, " · "))
    if present(ev.error) and not rollback then
      local err, at = ev.error, ""
      if present(err.file) then at = err.file .. (present(err.line) and (":" .. err.line) or "") .. ": " end
      print("  " .. at .. err.message .. (present(err.sqlstate) and (" (" .. err.sqlstate .. ")") or ""))
    end
    if counts.pending > 0 and ev.outcome ~= "ok" then
      print(string.format("  %d migration%s still pending", counts.pending, counts.pending == 1 and "" or "s"))
    end
  end,
}
