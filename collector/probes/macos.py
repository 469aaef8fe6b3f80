"""macOS probe: NSWorkspace for the frontmost app, the Quartz window list for its title.

Needs pyobjc (``pip install pyobjc-framework-Quartz``) and, for titles, the
Screen Recording permission. Only importable on macOS; not exercised by this
repository's CI (Linux).
"""

from __future__ import annotations

from collector.probes import ProbeUnavailable, WindowInfo
from collector.probes.process import describe_process

try:
    from AppKit import NSWorkspace  # type: ignore[import-not-found]
    from Quartz import (  # type: ignore[import-not-found]
        CGWindowListCopyWindowInfo,
        kCGNullWindowID,
        kCGWindowListOptionOnScreenOnly,
    )
except ImportError as exc:  # pragma: no cover - macOS only
    raise ProbeUnavailable("the macOS probe needs pyobjc",
                           hint="pip install pyobjc-framework-Quartz") from exc


class MacProbe:
    def active_window(self) -> WindowInfo | None:
        app = NSWorkspace.sharedWorkspace().frontmostApplication()
        if app is None:
            return None
        pid = int(app.processIdentifier())
        title = ""
        windows = CGWindowListCopyWindowInfo(kCGWindowListOptionOnScreenOnly, kCGNullWindowID)
        for window in windows:
            owner = int(window.get("kCGWindowOwnerPID", -1))
            if owner == pid and window.get("kCGWindowLayer") == 0:
                title = str(window.get("kCGWindowName") or "")
                break
        _, exe = describe_process(pid)
        return WindowInfo(app=str(app.localizedName() or "unknown"), exe=exe, title=title, pid=pid)

    def close(self) -> None:
        return None
