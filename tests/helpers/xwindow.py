"""A real X11 window with a known title and WM_CLASS, for the collector's tests.

    python -m tests.helpers.xwindow --title "Report.odt" --app-class Writer

Stays mapped until SIGTERM; prints its window id on stdout once mapped.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from Xlib import X, Xatom, display


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--title", required=True)
    parser.add_argument("--app-class", required=True)
    args = parser.parse_args()
    d = display.Display()
    screen = d.screen()
    win = screen.root.create_window(10, 10, 400, 300, 1, screen.root_depth,
                                    background_pixel=screen.white_pixel,
                                    event_mask=X.ExposureMask | X.KeyPressMask)
    win.set_wm_name(args.title)
    win.set_wm_class(args.app_class.lower(), args.app_class)
    win.change_property(d.intern_atom("_NET_WM_NAME"), d.intern_atom("UTF8_STRING"), 8,
                        args.title.encode())
    win.change_property(d.intern_atom("_NET_WM_PID"), Xatom.CARDINAL, 32, [os.getpid()])
    win.map()
    d.sync()
    print(win.id, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        d.next_event()  # typed keys arrive here and are thrown away


if __name__ == "__main__":
    main()
