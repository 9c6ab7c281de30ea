// moonshift dashboard: draws /api/dashboard.json (or the data written into the page by
// `moonshift dashboard --out`) and polls it again every refresh_seconds. No framework: every
// node is built with textContent, so no text from a database can become markup.
"use strict";
(function () {
  var data = null, stale = false, polls = 0, openRuns = {};
  var embedded = document.getElementById("moonshift-data");

  function h(tag, attrs) {
    var el = document.createElement(tag);
    for (var k in attrs || {}) {
      if (attrs[k] === null || attrs[k] === undefined || attrs[k] === false) continue;
      if (k === "text") el.textContent = attrs[k];
      else el.setAttribute(k, attrs[k]);
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    }
    return el;
  }
  function badge(kind, text) { return h("span", { "class": "badge " + kind, "data-badge": kind, text: text }); }
  function ms(n) {
    if (n === undefined || n === null) return "";
    return n < 1000 ? n + " ms" : n < 60000 ? (n / 1000).toFixed(1) + " s" : Math.round(n / 60000) + " min";
  }
  function label(m) { return m.version + "_" + m.name; }
  // A migration's state as the page shows it: applied but not verified is "unverified".
  function shownState(m) { return m.state === "applied" && m.verified === false ? "unverified" : m.state; }
  function byState(env, st) {
    return (env.migrations || []).filter(function (m) { return shownState(m) === st; });
  }

  function listLine(env, st, title) {
    var ms_ = byState(env, st);
    if (!ms_.length) return null;
    var names = ms_.slice(0, 6).map(label).join(", ") + (ms_.length > 6 ? ", … (" + ms_.length + ")" : "");
    return h("div", { "class": "list", "data-list": st }, h("span", { "class": "label", text: title + ": " }), names);
  }

  function lastRun(run) {
    if (!run) return h("div", { "class": "last" }, h("span", { "class": "label", text: "no runs recorded yet" }));
    return h("div", { "class": "last", "data-run": run.id },
      "last run: ", badge(run.outcome, run.outcome), " ", run.command, " by ", run.by || "?", ", ",
      run.started_at, run.duration_ms !== undefined ? " (" + ms(run.duration_ms) + ")" : "",
      run.error ? h("div", { "class": "error", "data-error": "run", text: run.error }) : null);
  }

  function card(env) {
    var name = env.environment;
    var title = h("h2", null, name, " ", env.production ? badge("production", "production") : null);
    if (env.error) {
      return h("article", { "class": "env unreachable", "data-env": name, "data-reachable": "false" },
        h("h2", null, name, " ", badge("unreachable", "unreachable")),
        h("div", { "class": "error", "data-error": "environment", text: env.error }));
    }
    var s = env.summary || {};
    var counts = h("div", { "class": "counts" }, badge("applied", s.applied + " applied"));
    if (s.unverified) counts.appendChild(badge("unverified", s.unverified + " unverified"));
    counts.appendChild(badge(s.pending ? "pending" : "ok", s.pending + " pending"));
    if (s.changed) counts.appendChild(badge("changed", s.changed + " changed on disk"));
    if (s.missing) counts.appendChild(badge("missing", s.missing + " missing on disk"));
    if (s.out_of_order) counts.appendChild(badge("out_of_order", s.out_of_order + " out of order"));
    var backups = env.backups || [];
    var b = backups.length
      ? h("div", { "class": "list", "data-list": "backups" }, h("span", { "class": "label", text: "backups: " }),
          backups.length + (backups.length >= 20 ? "+" : "") + ", newest #" + backups[0].id + " " +
          backups[0].created_at + " (" + backups[0].status + ")")
      : h("div", { "class": "list", "data-list": "backups" }, h("span", { "class": "label", text: "backups: none" }));
    return h("article", { "class": "env", "data-env": name, "data-reachable": "true" }, title,
      h("div", { "class": "where", text: env.where || "" }),
      h("div", { "class": "head" }, h("span", { "class": "label", text: "head" }),
        h("span", { "class": "version", "data-head": env.head || "", text: env.head || "none" })),
      counts,
      listLine(env, "unverified", "applied, not verified"),
      listLine(env, "pending", "pending"),
      listLine(env, "changed", "changed on disk"),
      listLine(env, "missing", "missing on disk"),
      listLine(env, "out_of_order", "out of order"),
      lastRun(env.last_run), b,
      h("a", { "class": "more", href: "#env/" + encodeURIComponent(name), text: "history and reports →" }));
  }

  function table(headers, rows) {
    var t = h("table", null, h("thead", null, h.apply(null, ["tr", null].concat(headers.map(function (x) {
      return h("th", { text: x });
    })))));
    var body = h("tbody");
    rows.forEach(function (r) { body.appendChild(r); });
    t.appendChild(body);
    return t;
  }
  function row(attrs, cells) {
    return h.apply(null, ["tr", attrs].concat(cells.map(function (c) {
      return typeof c === "object" && c !== null ? h("td", null, c) : h("td", { text: c === undefined ? "" : String(c) });
    })));
  }

  // A [fleet.NAME]: how many targets stand where, then one row per target.
  function fleetCard(f) {
    if (f.error) {
      return h("article", { "class": "fleet unreachable", "data-fleet": f.fleet },
        h("h2", null, "fleet " + f.fleet, " ", badge("unreachable", "targets unknown")),
        h("div", { "class": "error", "data-error": "fleet", text: f.error }));
    }
    var s = f.summary || {};
    var counts = h("div", { "class": "counts" }, badge("applied", s.targets + " targets"),
      badge("ok", s.at_head + " at head"));
    if (s.pending) counts.appendChild(badge("pending", s.pending + " with pending"));
    if (s.unreachable) counts.appendChild(badge("unreachable", s.unreachable + " unreachable"));
    if (s.last_run_failed) counts.appendChild(badge("failed", s.last_run_failed + " last run failed"));
    return h("article", { "class": "fleet", "data-fleet": f.fleet },
      h("h2", null, "fleet " + f.fleet), counts,
      table(["target", "server", "head", "pending", "unverified", "last run"],
        (f.targets || []).map(function (t) {
          var s2 = t.summary || {};
          var last = t.last_run;
          return row({ "data-target": t.environment, "data-head": t.head || "" },
            [t.environment, t.server || "", t.error ? badge("unreachable", "unreachable") : (t.head || "none"),
             t.error ? "" : s2.pending, t.error ? "" : s2.unverified,
             t.error ? h("span", { "class": "error", text: t.error })
               : last ? h("span", null, badge(last.outcome, last.outcome), " " + last.command + " " + last.started_at,
                   last.error ? h("div", { "class": "error", text: last.error }) : null) : "none"]);
        })));
  }

  function detail(env) {
    var box = h("div", { "class": "env-detail", "data-env": env.environment },
      h("p", null, h("a", { href: "#", text: "← all environments" })),
      card(env));
    if (env.error) return box;
    box.appendChild(h("h3", { text: "Migrations" }));
    box.appendChild(table(["migration", "state", "applied at", "took", "verified at"],
      (env.migrations || []).slice().reverse().map(function (m) {
        var st = shownState(m);
        return row({ "data-migration": m.version, "data-state": st },
          [label(m), badge(st, st), m.applied_at || "", m.duration_ms !== undefined ? ms(m.duration_ms) : "", m.verified_at || ""]);
      })));
    box.appendChild(h("h3", { text: "Runs" }));
    box.appendChild(table(["run", "started", "command", "outcome", "by", "took", "what"],
      [].concat.apply([], (env.runs || []).map(function (r) {
        var rep = h("details", { "data-report": r.id, open: openRuns[env.environment + "/" + r.id] ? "" : null },
          h("summary", { text: "report" }), h("pre", { "class": "report", text: r.report_markdown || "" }));
        rep.addEventListener("toggle", function () { openRuns[env.environment + "/" + r.id] = rep.open; });
        return [
          row({ "data-run": r.id, "data-outcome": r.outcome },
            [r.id, r.started_at, r.command, badge(r.outcome, r.outcome), r.by, ms(r.duration_ms), r.what]),
          h("tr", { "class": "run-extra" }, h("td", { colspan: "7" },
            r.error ? h("div", { "class": "error", "data-error": "run", text: r.error }) : null, rep))];
      }))));
    box.appendChild(h("h3", { text: "Backups" }));
    box.appendChild(table(["id", "created", "migration", "rows", "status", "by"],
      (env.backups || []).map(function (b) {
        return row({ "data-backup": b.id }, [b.id, b.created_at, b.version ? b.version + "_" + b.migration : "(by hand)",
          b.rows, badge(b.status === "complete" ? "ok" : b.status, b.status), b.created_by]);
      })));
    return box;
  }

  function render() {
    var over = document.getElementById("overview"), det = document.getElementById("detail");
    var st = document.getElementById("status");
    st.className = "status" + (stale ? " stale" : "");
    if (!data) { st.textContent = stale ? "cannot reach the dashboard server" : "loading…"; return; }
    st.textContent = (embedded ? "written " + data.generated_at + " (a static copy)"
      : (stale ? "cannot reach the dashboard server; showing " : "read ") + data.generated_at +
        " · refreshes every " + data.refresh_seconds + " s");
    document.getElementById("footer").textContent = "moonshift " + (data.version || "") + " · read only";
    var envs = data.environments || [];
    var m = /^#env\/(.+)$/.exec(location.hash);
    var chosen = m && envs.filter(function (e) { return e.environment === decodeURIComponent(m[1]); })[0];
    over.textContent = "";
    det.textContent = "";
    if (chosen) {
      over.hidden = true; det.hidden = false;
      det.appendChild(detail(chosen));
    } else {
      over.hidden = false; det.hidden = true;
      envs.forEach(function (e) { over.appendChild(card(e)); });
      (data.fleets || []).forEach(function (f) { over.appendChild(fleetCard(f)); });
    }
    document.body.setAttribute("data-ready", "true");
    document.body.setAttribute("data-polls", String(polls));  // how many readings arrived
  }

  function poll() {
    fetch("api/dashboard.json", { cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (j) { data = j; stale = false; polls++; })
      .catch(function () { stale = true; })
      .then(function () {
        render();
        setTimeout(poll, 1000 * ((data && data.refresh_seconds) || 5));
      });
  }

  window.addEventListener("hashchange", render);
  if (embedded) {
    data = JSON.parse(embedded.textContent);
    render();
  } else {
    poll();
  }
})();
