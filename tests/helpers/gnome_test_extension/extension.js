// Test-only (never shipped): drives a headless GNOME Shell 43/44 for deskpulse's tests.
// dev.deskpulse.Test1 on /dev/deskpulse/Test: Activate(title) focuses the window with that
// title, Poke() moves a virtual pointer (input, so Mutter's idle time restarts).
'use strict';

const { Gio, GLib, Clutter } = imports.gi;
const Main = imports.ui.main;

const IFACE = `<node>
  <interface name="dev.deskpulse.Test1">
    <method name="Activate">
      <arg type="s" name="title" direction="in"/>
      <arg type="b" name="found" direction="out"/>
    </method>
    <method name="Poke"/>
  </interface>
</node>`;

class TestDriver {
    enable() {
        if (Main.layoutManager._startingUp)
            this._startId = Main.layoutManager.connect('startup-complete',
                () => Main.overview.hide());
        else
            Main.overview.hide();
        this._dbus = Gio.DBusExportedObject.wrapJSObject(IFACE, this);
        this._dbus.export(Gio.DBus.session, '/dev/deskpulse/Test');
        this._nameId = Gio.bus_own_name_on_connection(Gio.DBus.session, 'dev.deskpulse.Test',
            Gio.BusNameOwnerFlags.NONE, null, null);
    }

    disable() {
        Gio.bus_unown_name(this._nameId);
        this._dbus.unexport();
    }

    Activate(title) {
        Main.overview.hide();
        for (const actor of global.get_window_actors()) {
            const window = actor.meta_window;
            if (window.get_title() === title) {
                Main.activateWindow(window);
                return true;
            }
        }
        return false;
    }

    Poke() {
        if (!this._pointer) {
            const seat = Clutter.get_default_backend().get_default_seat();
            this._pointer = seat.create_virtual_device(Clutter.InputDeviceType.POINTER_DEVICE);
        }
        this._pointer.notify_relative_motion(GLib.get_monotonic_time(), 3, 2);
    }
}

function init() {
    return new TestDriver();
}
