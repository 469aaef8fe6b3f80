"""The real collector on real Wayland compositors, through the real broker into ClickHouse.

sway (wlroots) runs headless as an unprivileged user; the collector runs as the
test's user inside that session (WAYLAND_DISPLAY + XDG_RUNTIME_DIR), as a separate
`deskpulse collect` process, and publishes to the embedded stack.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from collector.spool import Spool
from deskpulse.core.procs import Child, free_port
from schemas import topics
from tests.conftest import wait_for
from tests.helpers.collector_proc import CollectorProc, assert_focused
from tests.helpers.wayland import gnome_desktop, kwin_desktop, sway_desktop, system_bus
from tests.integration.test_collector_x11 import published
from tests.integration.test_privacy_invariants import OUTPUTS, table_text, topic_bytes

pytestmark = pytest.mark.integration

SECRET = "Wl-s3cret-Qv7"


def spans(store, user: str) -> list[tuple]:
    """(app, title, duration ms, idle) of ``user``'s spans in ClickHouse, in order."""
    return [tuple(r) for r in store.query(
        "SELECT app, title, toUnixTimestamp64Milli(end) - toUnixTimestamp64Milli(start), idle "
        f"FROM deskpulse.activity_spans WHERE user = '{user}' ORDER BY start")[1]]


def everything_kept(stack, store, tmp: Path, proc: CollectorProc) -> list[bytes]:
    """Every table, topic, spool file and log there is, as bytes."""
    blobs = [t.encode() for t in table_text(store).values()]
    blobs += [topic_bytes(stack.broker, t) for t in (topics.ACTIVITY, *OUTPUTS)]
    files = [*(Path(stack.data_dir) / "logs").glob("*.log"), *tmp.glob("spool.db*"),
             proc.log, tmp / "collector.out", *tmp.glob("*.log")]
    return blobs + [p.read_bytes() for p in files if p.exists()]


def test_sway_focus_switches_idle_and_a_typed_secret(stack, stack_store, tmp_path):
    with sway_desktop(tmp_path) as desk:
        desk.open_window("Alpha doc")
        desk.open_window("Beta sheet")
        desk.focus("Alpha doc")
        proc = CollectorProc(tmp_path, desk, stack.broker, user="wl-sway", host="sway-host")
        proc.start()
        session = proc.status()["session"]
        assert session["probe"] == "wlroots" and session["idle"] == "org_kde_kwin_idle"
        time.sleep(3.0)       # no input: idle after the 2 s threshold
        desk.type(SECRET)     # input through the virtual keyboard: active again
        time.sleep(1.5)
        beta_asked = int(time.time() * 1000)
        desk.focus("Beta sheet")
        beta_seen = proc.sampled_now_ms()
        desk.type(SECRET)
        time.sleep(2.5)
        alpha_asked = int(time.time() * 1000)
        desk.focus("Alpha doc")
        alpha_seen = proc.sampled_now_ms()
        time.sleep(2.0)
        assert proc.stop() == 0

    rows = wait_for(lambda: (r := spans(stack_store, "wl-sway")) and
                    r[-1][1] == "Alpha doc" and any(t == "Beta sheet" for _, t, _, _ in r)
                    and r, 120, "the sway spans in ClickHouse", interval=1)
    assert {app for app, _, _, _ in rows} == {"foot"}
    titles = [t for _, t, _, _ in rows]
    assert titles[0] == "Alpha doc" and titles[-1] == "Alpha doc" and "Beta sheet" in titles
    assert_focused([(s, e) for t, s, e, _ in span_times(stack_store, "wl-sway")
                    if t == "Beta sheet"], beta_asked, beta_seen, alpha_asked, alpha_seen)
    first_alpha = rows[:titles.index("Beta sheet")]
    idles = [idle for _, _, _, idle in first_alpha]
    assert idles[:2] == [False, True], f"idle after 2 s without input: {first_alpha}"
    assert idles[-1] is False, "typing made the person active again"

    for blob in everything_kept(stack, stack_store, tmp_path, proc):
        assert SECRET.encode() not in blob and b"s3cret" not in blob


def span_times(store, user: str) -> list[tuple]:
    """(title, start ms, end ms, idle) of ``user``'s spans in ClickHouse, in order."""
    return [tuple(r) for r in store.query(
        "SELECT title, toUnixTimestamp64Milli(start), toUnixTimestamp64Milli(end), idle "
        f"FROM deskpulse.activity_spans WHERE user = '{user}' ORDER BY start")[1]]


def test_gnome_shell_extension_focus_idle_and_lock(stack, stack_store, tmp_path):
    with system_bus(tmp_path, gdm=True) as bus, gnome_desktop(tmp_path, bus) as desk:
        bus.add_session("g1", desk.user.pw_uid, desk.user.pw_name)
        desk.env["XDG_SESSION_ID"] = "g1"
        desk.open_window("Gamma doc")
        desk.open_window("Delta doc")
        desk.focus("Gamma doc")
        desk.poke()
        proc = CollectorProc(tmp_path, desk, stack.broker, user="wl-gnome", host="gnome-host")
        proc.start()
        session = proc.status()["session"]
        assert session["probe"] == "gnome" and session["idle"] == "org.gnome.Mutter.IdleMonitor"
        assert "logind LockedHint" in session["away"] and "screensaver" in session["away"]
        time.sleep(3.0)       # no input: idle after the 2 s threshold (Mutter's idle time)
        desk.poke()           # input: active again
        time.sleep(1.5)
        desk.focus("Delta doc")
        desk.poke()
        time.sleep(2.0)
        desk.poke()
        desk.lock()           # org.gnome.ScreenSaver.Lock: the span ends, nothing while locked
        wait_for(lambda: proc.status()["away"], 10, "the collector to see the lock")
        # The collector learns of the lock from a D-Bus signal in its own thread, at about the
        # moment Lock returns here (before or after, as the scheduler has it): what holds is that
        # the span ends no later than the collector reported the lock, and nothing after.
        locked_ms = int(time.time() * 1000)
        time.sleep(2.5)
        until_ms = int(time.time() * 1000)
        assert proc.status()["away"] is True
        assert proc.stop() == 0

    rows = wait_for(lambda: (r := span_times(stack_store, "wl-gnome")) and
                    any(t == "Delta doc" for t, *_ in r) and r, 120,
                    "the GNOME spans in ClickHouse", interval=1)
    assert {app for app, *_ in spans(stack_store, "wl-gnome")} == {"foot"}
    titles = [t for t, *_ in rows]
    assert titles[0] == "Gamma doc" and titles[-1] == "Delta doc", rows
    gamma = rows[:titles.index("Delta doc")]
    assert [idle for *_, idle in gamma][:2] == [False, True], f"idle from Mutter: {gamma}"
    assert gamma[-1][3] is False, "input made the person active again"
    assert all(end <= locked_ms for _, _, end, _ in rows), "the lock ended the span"
    assert not any(start < until_ms and end > locked_ms for _, start, end, _ in rows), \
        "locked time is never recorded"


def test_gnome_probe_follows_focus_and_idle_from_signals_without_asking(tmp_path):
    """With no re-query due for an hour, only the extension's Changed signal and Mutter's
    idle watches can tell the probe of a new focus, of idleness and of input again."""
    from collector.probes.gnome import GnomeProbe
    with system_bus(tmp_path, gdm=True) as bus, gnome_desktop(tmp_path, bus) as desk:
        desk.open_window("Sigma doc")
        desk.open_window("Tau doc")
        desk.focus("Sigma doc")
        desk.poke()
        probe = GnomeProbe(desk.env, idle_threshold_s=2.0, requery_s=3600)
        try:
            assert probe.mode == "window from Changed signals, idle from watches"
            assert probe.active_window().title == "Sigma doc"  # the first sample asks
            assert probe.idle_seconds() < 2.0
            calls = []
            probe._get = lambda: calls.append("Get")  # noqa: SLF001 - no more asking
            probe._idle_ms = lambda: calls.append("GetIdletime")  # noqa: SLF001
            desk.focus("Tau doc")
            wait_for(lambda: (w := probe.active_window()) and w.title == "Tau doc", 10,
                     "the Changed signal of the new focus")
            wait_for(lambda: probe.idle_seconds() >= 2.0, 10, "Mutter's idle watch")
            desk.poke()
            wait_for(lambda: probe.idle_seconds() == 0.0, 10, "Mutter's user-active watch")
            assert calls == [], "no method call was needed"
        finally:
            probe.close()


def test_gnome_probe_without_signals_asks_every_sample(tmp_path):
    """The fall-back for an extension without Changed (an older install) or a Mutter that
    refuses watches: every sample is a Get and a GetIdletime, as before."""
    from collector.probes.gnome import GnomeProbe
    with system_bus(tmp_path, gdm=True) as bus, gnome_desktop(tmp_path, bus) as desk:
        desk.open_window("Sigma doc")
        desk.open_window("Tau doc")
        desk.focus("Sigma doc")
        probe = GnomeProbe(desk.env, idle_threshold_s=2.0, signals=False)
        try:
            assert probe.mode == "window asked each sample, idle asked each sample"
            assert probe.active_window().title == "Sigma doc"
            desk.focus("Tau doc")
            wait_for(lambda: (w := probe.active_window()) and w.title == "Tau doc", 10,
                     "Get to answer the new focus")
            desk.poke()
            assert probe.idle_seconds() < 2.0
        finally:
            probe.close()


def test_kwin_script_reports_the_active_window_and_kwin_idle(stack, stack_store, tmp_path):
    with kwin_desktop(tmp_path) as desk:
        desk.open_window("Kappa doc", "kappa")
        desk.open_window("Lambda doc", "lambda")
        desk.focus("Kappa doc")
        proc = CollectorProc(tmp_path, desk, stack.broker, user="wl-kde", host="kde-host")
        proc.start()
        session = proc.status()["session"]
        assert session["probe"] == "kde" and session["idle"] == "ext-idle-notify-v1"
        time.sleep(1.5)
        lambda_asked = int(time.time() * 1000)
        desk.focus("Lambda doc")
        lambda_seen = proc.sampled_now_ms()
        time.sleep(2.0)
        kappa_asked = int(time.time() * 1000)
        desk.focus("Kappa doc")
        kappa_seen = proc.sampled_now_ms()
        time.sleep(3.5)       # no input at all here: idle 2 s after the collector started
        assert proc.stop() == 0

    rows = wait_for(lambda: (r := spans(stack_store, "wl-kde")) and
                    any(t == "Lambda doc" for _, t, _, _ in r) and r[-1][1] == "Kappa doc"
                    and r, 120, "the KDE spans in ClickHouse", interval=1)
    # (the Lambda stretch may be split where the idle notification arrives: no input here)
    assert {(a, t) for a, t, _, _ in rows if t == "Lambda doc"} == {("lambda", "Lambda doc")}
    assert rows[0][:2] == ("kappa", "Kappa doc")
    assert_focused([(s, e) for t, s, e, _ in span_times(stack_store, "wl-kde")
                    if t == "Lambda doc"], lambda_asked, lambda_seen, kappa_asked, kappa_seen)
    assert rows[-1][3] is True, "idle from KWin's ext-idle-notify-v1 after the threshold"


def test_x11_apps_under_xwayland_are_seen_through_the_wayland_probe(broker, tmp_path):
    with sway_desktop(tmp_path, xwayland=True) as desk:
        display = wait_for(desk.x_display, 15, "sway's XWayland socket")
        desk.open_window("Native doc")
        # an X11 client of the session user (XWayland admits only that user): xmessage
        x_window = Child("x window", desk.as_user(["xmessage", "-title", "Xray doc", "X11"],
                                                  {"DISPLAY": display}),
                         tmp_path / "xwindow.log")
        try:
            wait_for(lambda: any(w.get("name") == "Xray doc" for w in desk.tree()), 20,
                     "the X11 window in sway's tree")
            desk.env["DISPLAY"] = display  # XWayland's DISPLAY is set in the session too
            proc = CollectorProc(tmp_path, desk, broker, user="wl-xwayland", host="sway-host")
            proc.start()
            assert proc.status()["session"]["probe"] == "wlroots"
            for title in ("Native doc", "Xray doc", "Native doc"):
                desk.focus(title)
                time.sleep(1.5)
            assert proc.stop() == 0
        finally:
            x_window.stop(timeout=5)
    events = published(broker, "wl-xwayland", expect_at_least=3)
    seen = {(e["app"], e["title"]) for e in events}
    assert ("foot", "Native doc") in seen
    assert ("Xmessage", "Xray doc") in seen, seen  # an X11 app: its app id is its WM_CLASS


def test_a_compositor_that_goes_away_ends_the_collector_cleanly(tmp_path):
    with sway_desktop(tmp_path) as desk:
        desk.open_window("Short doc")
        proc = CollectorProc(tmp_path, desk, f"127.0.0.1:{free_port()}", user="wl-gone",
                             max_span=1)
        proc.start()
        wait_for(lambda: proc.status()["spooled"] > 0, 15, "a spooled span")
        desk.compositor.stop(timeout=10)  # logout / crash of the compositor
        wait_for(lambda: not proc.child.alive(), 30, "the collector to exit")
    assert proc.child.proc.returncode == 0
    log = proc.log.read_text()
    assert "the Wayland compositor went away" in log and "Traceback" not in log
    assert len(Spool(proc.spool)) > 0, "unsent events are kept for the next start"
