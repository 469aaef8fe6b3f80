// The "my data" page: reads /api/today with the token the URL fragment brought, and
// renders it with textContent only (titles and addresses are never parsed as HTML).
"use strict";

(function () {
  const KEY = "deskpulse-mydata-token";
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("token")) {
    sessionStorage.setItem(KEY, hash.get("token"));
    history.replaceState(null, "", location.pathname); // out of the address bar and history
  }
  const token = sessionStorage.getItem(KEY) || "";
  let tz = "UTC";

  const $ = (id) => document.getElementById(id);
  const time = (ms) => new Date(ms).toLocaleTimeString([], {timeZone: tz, hour: "2-digit",
    minute: "2-digit", second: "2-digit", hour12: false});
  const span = (ms) => {
    const m = Math.round(ms / 60000);
    return m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m} min`;
  };

  function showError(text) {
    const el = $("error");
    el.textContent = text;
    el.hidden = !text;
  }

  async function call(method, path, body) {
    const init = {method, headers: {Authorization: `Bearer ${token}`}, cache: "no-store"};
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const answer = await fetch(path, init);
    const value = await answer.json();
    if (!answer.ok) throw new Error(value.error || `HTTP ${answer.status}`);
    return value;
  }

  function rows(tbody, events) {
    tbody.replaceChildren();
    for (const e of events) {
      const tr = document.createElement("tr");
      tr.dataset.eventId = e.event_id;
      tr.dataset.startMs = e.start_ms;
      tr.dataset.endMs = e.end_ms;
      tr.dataset.idle = e.idle ? "1" : "0";
      const cells = [[time(e.start_ms), "t"], [time(e.end_ms), "t"], [e.app, "app"],
        [e.title, "title"], [e.url, "url"], [e.idle ? "idle" : "", "idle"]];
      for (const [text, cls] of cells) {
        const td = document.createElement("td");
        td.className = cls;
        td.textContent = text;
        tr.appendChild(td);
      }
      tbody.appendChild(tr);
    }
  }

  function render(doc) {
    tz = doc.tz;
    $("tz").textContent = doc.tz;
    const st = $("state");
    st.dataset.state = doc.state;
    st.textContent = {recording: "Recording", paused: "Paused (private mode)",
      "off-hours": "Not recording (outside working hours)", away: "Not recording (away)",
      waiting: "Recording, events waiting to be sent"}[doc.state] || doc.state;
    const pm = doc.private_mode;
    $("state-detail").textContent = pm.on ? (pm.until_ms ? `until ${time(pm.until_ms)}` :
      "until you resume") : "";
    $("private").textContent = pm.on ? `on since ${time(pm.since_ms)}` : "off";
    const wh = doc.working_hours;
    $("hours").textContent = wh.spec ? `${wh.spec} (${wh.tz}); ` +
      (wh.inside_now ? "inside them now" : "outside them now: nothing is recorded") :
      "none set: recorded whenever the computer is in use";
    const c = doc.capture;
    $("titles").textContent = c.titles ? (c.redaction_patterns ?
      `recorded, with ${c.redaction_patterns} redaction pattern(s) applied before sending` :
      "recorded") : "not recorded";
    $("urls").textContent = {full: "full address", path: "site and path (no query)",
      host: "site only", none: "not recorded"}[c.url_mode] || c.url_mode;
    $("idle").textContent = `marked idle after ${c.idle_after_s} s without input`;
    $("server").textContent = doc.server_policies;
    $("totals").textContent = `(${doc.totals.events} events: ${span(doc.totals.active_ms)} ` +
      `active, ${span(doc.totals.idle_ms)} idle)`;
    rows($("sent").tBodies[0], doc.sent);
    const list = $("pauses");
    list.replaceChildren();
    for (const p of doc.pauses) {
      const li = document.createElement("li");
      li.dataset.sinceMs = p.since_ms;
      const end = p.ended_ms ? time(p.ended_ms) : (p.until_ms ? `${time(p.until_ms)} ` +
        "(planned)" : "you resume");
      li.textContent = `${time(p.since_ms)} to ${end}`;
      list.appendChild(li);
    }
    if (!doc.pauses.length) list.textContent = "none";
    $("spool-count").textContent = `(${doc.spool.waiting} events` +
      (doc.spool.dropped ? `, ${doc.spool.dropped} dropped when the spool was full)` : ")");
    rows($("spool").tBodies[0], doc.spool.events);
    document.body.dataset.loaded = String(doc.now_ms);
  }

  async function refresh() {
    try {
      render(await call("GET", "/api/today"));
      showError("");
    } catch (err) {
      showError(String(err.message || err));
    }
  }

  async function act(path, body) {
    try {
      render(await call("POST", path, body));
      showError("");
    } catch (err) {
      showError(String(err.message || err));
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const id of ["pause-15", "pause-60"]) {
      $(id).addEventListener("click", (ev) =>
        act("/api/pause", {for_s: Number(ev.target.dataset.for)}));
    }
    $("pause-until").addEventListener("click", () => act("/api/pause", {for_s: null}));
    $("resume").addEventListener("click", () => act("/api/resume", {}));
    if (!token) {
      showError("No token: open this page with 'deskpulse collector open'.");
      return;
    }
    refresh();
    setInterval(refresh, 5000);
  });
})();
