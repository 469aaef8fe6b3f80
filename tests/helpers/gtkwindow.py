"""A GTK 3 window with a given title (run with Debian's python3: python3-gi, GTK from gnome-shell).

Used on compositors where foot cannot run (KWin's virtual backend reports 0 mm outputs,
and foot divides by it). ``--app-id`` sets the Wayland app id (GTK's program class).
"""

import argparse

import gi

gi.require_version("Gtk", "3.0")
from gi.repository import GLib, Gtk  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--title", required=True)
parser.add_argument("--app-id", default="deskpulse-gtk")
args = parser.parse_args()
GLib.set_prgname(args.app_id)
window = Gtk.Window(title=args.title)
window.set_default_size(400, 300)
window.connect("destroy", Gtk.main_quit)
window.show_all()
Gtk.main()
