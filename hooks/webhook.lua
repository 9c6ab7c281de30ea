-- The webhook hook: every event, as the JSON of docs/events.md, POSTed to
-- a URL and signed. The body is the event plus `delivery` {id, timestamp};
-- the headers:
--   X-Moonshift-Event      the event's name
--   X-Moonshift-Delivery   its id (the same for every retry of it)
--   X-Moonshift-Timestamp  Unix seconds when it was sent (also in the body)
--   X-Moonshift-Signature  sha256=<hex HMAC-SHA256 of the body under `secret`>
-- A receiver checks the signature over the raw body, then refuses a
-- timestamp older than a few minutes and a delivery id it has seen: a
-- replayed request is then worthless (docs/hooks.md, "Verifying webhooks").
--
--   [notify.webhook]
--   url = "https://ops.example.com/moonshift"   # a secret: never shown
--   secret = "${MOONSHIFT_WEBHOOK_SECRET}"        # optional, strongly advised
--   events = ["run.finish", "migration.failed"]   # default: every event
--   headers = { Authorization = "Bearer ${OPS_TOKEN}" }

local function present(v)
  return v ~= nil and v ~= json.null
end

return {
  ["*"] = function(ev)
    local s = ev.settings
    if not present(s.url) then error("[notify." .. ev.hook .. "] needs url, where to POST the events", 0) end
    local body = {}
    for k, v in pairs(ev) do
      if k ~= "hook" and k ~= "settings" then body[k] = v end
    end
    local timestamp = os.time()
    body.delivery = { id = ev.id, timestamp = timestamp }
    local text = json.encode(body)
    local headers = {}
    if present(s.headers) then
      for k, v in pairs(s.headers) do headers[k] = v end
    end
    headers["Content-Type"] = "application/json"
    headers["X-Moonshift-Event"] = ev.event
    headers["X-Moonshift-Delivery"] = ev.id
    headers["X-Moonshift-Timestamp"] = tostring(timestamp)
    if present(s.secret) then
      headers["X-Moonshift-Signature"] = "sha256=" .. http.hmac_sha256(s.secret, text)
    end
    http.post(s.url, text, {
      headers = headers,
      timeout = present(s.timeout) and s.timeout or "10s",
      retries = present(s.retries) and s.retries or 2,
      backoff = present(s.backoff) and s.backoff or "500ms",
      ca_file = present(s.ca_file) and s.ca_file or nil,
    })
  end,
}
