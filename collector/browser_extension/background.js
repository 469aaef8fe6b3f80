// deskpulse site reporter: on tab activation, URL or title change and window focus, send the
// active tab's URL and title to the deskpulse collector on 127.0.0.1. Nothing else is read:
// no page content, no history, and nothing from private (incognito) windows, where the
// extension does not run ("incognito": "not_allowed") and which it checks again below.
"use strict";

const api = globalThis.browser || globalThis.chrome;
const FAMILY = navigator.userAgent.includes("Firefox/") ? "firefox" : "chromium";
let cached = null;

// Answers within `ms` or gives `fallback` (managed storage never answers in some builds
// when no policy is set).
function within(ms, promise, fallback) {
  return Promise.race([promise.catch(() => fallback),
                       new Promise((resolve) => setTimeout(() => resolve(fallback), ms))]);
}

// Configuration, first found wins: config.json written next to this file by
// `deskpulse extension build`, browser policy (managed storage, for fleet installs from a
// store), the options page.
async function config() {
  if (cached && cached.port && cached.token) return cached;
  let cfg = await within(2000, fetch(api.runtime.getURL("config.json"))
    .then((r) => (r.ok ? r.json() : {})), {});
  if (!cfg.port || !cfg.token) {
    cfg = await within(2000, api.storage.managed.get(["port", "token"]), {});
  }
  if (!cfg.port || !cfg.token) cfg = await within(2000, api.storage.local.get(["port", "token"]), {});
  cached = cfg;
  return cfg;
}

async function send(body) {
  const cfg = await config();
  if (!cfg.port || !cfg.token) return;
  try {
    await fetch(`http://127.0.0.1:${cfg.port}/v1/active-tab`, {
      method: "POST",
      headers: {"Content-Type": "application/json", "Authorization": `Bearer ${cfg.token}`},
      body: JSON.stringify(body),
    });
  } catch (e) {
    // the collector is not running: nothing to do, the next change reports again
  }
}

function report(tab) {
  if (!tab || tab.incognito) return send({browser: FAMILY, url: "", title: ""});
  const url = /^https?:\/\//.test(tab.url || "") ? tab.url : "";
  return send({browser: FAMILY, url, title: url ? (tab.title || "") : ""});
}

async function reportActive() {
  const tabs = await api.tabs.query({active: true, lastFocusedWindow: true});
  return report(tabs[0]);
}

api.tabs.onActivated.addListener(() => { reportActive(); });
api.tabs.onUpdated.addListener((tabId, change, tab) => {
  if (tab.active && (change.url || change.title || change.status === "complete")) report(tab);
});
api.windows.onFocusChanged.addListener((windowId) => {
  // WINDOW_ID_NONE: focus left the browser (or went to a window we may not see): no site
  if (windowId === api.windows.WINDOW_ID_NONE) send({browser: FAMILY, url: "", title: ""});
  else reportActive();
});
api.alarms.create("deskpulse-heartbeat", {periodInMinutes: 1});
api.alarms.onAlarm.addListener(() => { reportActive(); });
api.storage.onChanged.addListener(() => { cached = null; });
reportActive();
