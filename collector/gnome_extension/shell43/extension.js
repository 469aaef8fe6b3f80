// deskpulse focus (GNOME Shell 43-44): the focused window on the session bus.
//
// Exports /dev/deskpulse/Focus (interface dev.deskpulse.Focus1) and owns the name
// dev.deskpulse.Focus. Get() returns (title, app id, WM class, pid) of the focused
// window ("", "", "", 0 when none); Changed carries the same whenever the focus or the
// focused window's title or class changes. No input, no window contents.
'use strict';

const { Gio, GLib, Shell } = imports.gi;

const IFACE = `<node>
  <interface name="dev.deskpulse.Focus1">
    <method name="Get">
      <arg type="s" name="title" direction="out"/>
      <arg type="s" name="app_id" direction="out"/>
      <arg type="s" name="wm_class" direction="out"/>
      <arg type="u" name="pid" direction="out"/>
    </method>
    <signal name="Changed">
      <arg type="s" name="title"/>
      <arg type="s" name="app_id"/>
      <arg type="s" name="wm_class"/>
      <arg type="u" name="pid"/>
    </signal>
  </interface>
</node>`;

class DeskpulseFocus {
    enable() {
        this._window = null;
        this._windowIds = [];
        this._dbus = Gio.DBusExportedObject.wrapJSObject(IFACE, this);
        this._dbus.export(Gio.DBus.session, '/dev/deskpulse/Focus');
        this._nameId = Gio.bus_own_name_on_connection(Gio.DBus.session, 'dev.deskpulse.Focus',
            Gio.BusNameOwnerFlags.NONE, null, null);
        this._focusId = global.display.connect('notify::focus-window', () => this._follow());
        this._follow();
    }

    disable() {
        global.display.disconnect(this._focusId);
        this._unfollow();
        Gio.bus_unown_name(this._nameId);
        this._dbus.unexport();
        this._dbus = null;
    }

    _unfollow() {
        if (this._window)
            this._windowIds.forEach(id => this._window.disconnect(id));
        this._window = null;
        this._windowIds = [];
    }

    _follow() {
        this._unfollow();
        const window = global.display.focus_window;
        if (window) {
            this._window = window;
            this._windowIds = ['notify::title', 'notify::wm-class'].map(
                signal => window.connect(signal, () => this._changed()));
        }
        this._changed();
    }

    _state() {
        const window = global.display.focus_window;
        if (!window)
            return ['', '', '', 0];
        const app = Shell.WindowTracker.get_default().get_window_app(window);
        const appId = (app && app.get_id()) || window.get_gtk_application_id() || '';
        const pid = window.get_pid();
        return [window.get_title() || '', appId, window.get_wm_class() || '', pid > 0 ? pid : 0];
    }

    Get() {
        return this._state();
    }

    _changed() {
        if (this._dbus)
            this._dbus.emit_signal('Changed', new GLib.Variant('(sssu)', this._state()));
    }
}

function init() {
    return new DeskpulseFocus();
}
