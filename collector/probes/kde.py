"""KDE Plasma (KWin, Wayland): the active window through a KWin script, idle from Wayland.

KWin scripts cannot be asked questions, but they can call D-Bus. So the collector
owns ``dev.deskpulse.KWin`` on the session bus and serves
``dev.deskpulse.KWin1.Focus(caption, resource class, desktop file, pid)``; it loads the
shipped script (``collector/kwin_script/deskpulse-focus.js``) through KWin's scripting
interface (``org.kde.KWin /Scripting loadScript`` + ``start``), and the script calls
``Focus`` on every activation and caption change. Idle comes from the compositor's
idle protocol (``ext-idle-notify-v1`` or ``org_kde_kwin_idle``), lock from the
screensaver's ``ActiveChanged`` and logind (``collector.session.lock``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path

from jeepney import MatchRule, MessageType, new_method_return
from jeepney.bus_messages import message_bus

from collector.probes import ProbeLost, ProbeUnavailable, WindowInfo
from collector.probes.process import describe_process
from collector.session.dbus import DBusErrorResponse, call, connect

logger = logging.getLogger(__name__)

SERVICE, PATH, IFACE = "dev.deskpulse.KWin", "/dev/deskpulse/KWin", "dev.deskpulse.KWin1"
PLUGIN = "deskpulse-focus"
SCRIPT = Path(__file__).resolve().parent.parent / "kwin_script" / "deskpulse-focus.js"
SCRIPTING = ("org.kde.KWin", "/Scripting", "org.kde.kwin.Scripting")


def window_from(caption: str, resource_class: str, desktop_file: str, pid: int
                ) -> WindowInfo | None:
    if not (caption or resource_class or desktop_file):
        return None
    name, exe = describe_process(int(pid))
    return WindowInfo(app=resource_class or desktop_file or name or "unknown", exe=exe,
                      title=caption, pid=int(pid))


class KdeProbe:
    def __init__(self, env: dict[str, str], idle_threshold_s: float) -> None:
        from collector.probes.wlroots import WlrootsProbe
        self._server = connect(env, "SESSION")
        self._client = connect(env, "SESSION")
        self._window: WindowInfo | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._lost: ProbeLost | None = None
        self._script_copy: Path | None = None
        try:
            (owned,) = self._server.send_and_get_reply(
                message_bus.RequestName(SERVICE, 4), timeout=5).body  # 4: do not queue
            if owned not in (1, 4):  # primary owner / already owner
                raise ProbeUnavailable(f"another program owns {SERVICE} on the session bus",
                                       hint="is a second collector running in this session?")
            self._queue_cm = self._server.filter(MatchRule(type="method_call", path=PATH),
                                                 bufsize=64)
            self._queue = self._queue_cm.__enter__()
            self._thread = threading.Thread(target=self._serve, name="kwin", daemon=True)
            self._thread.start()
            self._load_script(env)
            self.wayland = WlrootsProbe(env, idle_threshold_s=idle_threshold_s,
                                        toplevels=False)
        except (DBusErrorResponse, TimeoutError, OSError) as exc:
            self.close()
            raise ProbeUnavailable(f"KWin's scripting interface does not answer: {exc}",
                                   hint="is this a KDE Plasma (KWin) session?") from exc
        except ProbeUnavailable:
            self.close()
            raise
        self.idle = self.wayland.idle
        self.idle_protocol = self.wayland.idle_protocol

    def _load_script(self, env: dict[str, str]) -> None:
        # KWin (the user's process) reads the file: a private copy it can read, whatever
        # the collector's install location (a root-only site-packages, a zipapp...)
        where = Path(env.get("XDG_RUNTIME_DIR") or tempfile.gettempdir())
        self._script_copy = where / f"deskpulse-focus-{os.getpid()}.js"
        shutil.copyfile(SCRIPT, self._script_copy)
        self._script_copy.chmod(0o644)
        with contextlib.suppress(DBusErrorResponse):
            call(self._client, *SCRIPTING, "unloadScript", "s", (PLUGIN,), timeout=5)
        call(self._client, *SCRIPTING, "loadScript", "ss", (str(self._script_copy), PLUGIN),
             timeout=5)
        call(self._client, *SCRIPTING, "start", timeout=5)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self._server.recv_until_filtered(self._queue, timeout=0.5)
            except TimeoutError:
                continue
            except (OSError, ValueError) as exc:
                if not self._stop.is_set():
                    self._lost = ProbeLost(f"the session bus went away: {exc}")
                return
            if msg.header.message_type != MessageType.method_call:
                continue
            with contextlib.suppress(ValueError, TypeError):
                caption, cls, desktop, pid = msg.body
                with self._lock:
                    self._window = window_from(caption, cls, desktop, pid)
            with contextlib.suppress(OSError):
                self._server.send(new_method_return(msg))

    def active_window(self) -> WindowInfo | None:
        if self._lost is not None:
            raise self._lost
        with self._lock:
            return self._window

    def close(self) -> None:
        self._stop.set()
        thread = getattr(self, "_thread", None)
        if thread is not None and thread.is_alive():
            thread.join(2)
        with contextlib.suppress(DBusErrorResponse, TimeoutError, OSError):
            call(self._client, *SCRIPTING, "unloadScript", "s", (PLUGIN,), timeout=2)
        if getattr(self, "wayland", None) is not None:
            self.wayland.close()
        for conn in (self._server, self._client):
            with contextlib.suppress(OSError):
                conn.close()
        if self._script_copy is not None:
            with contextlib.suppress(OSError):
                self._script_copy.unlink()


def open_kde(env: dict[str, str], choice, idle_threshold: float):
    from collector.probes.select import Session
    from collector.session.lock import open_away_watch
    probe = KdeProbe(env, idle_threshold)
    return Session(probe, probe.idle, choice, probe.idle_protocol or "nothing",
                   away=open_away_watch(env))
