// deskpulse focus (KWin script, Plasma 5.27 and 6): tells the collector which window is active.
//
// Loaded by the collector through KWin's scripting D-Bus interface (org.kde.KWin
// /Scripting loadScript + run). On every activation, and when the active window's caption
// changes, it calls dev.deskpulse.KWin /dev/deskpulse/KWin dev.deskpulse.KWin1.Focus with
// (caption, resource class, desktop file name, pid) — "" and 0 when no window is active.
// Nothing else: no input, no window contents.

var SERVICE = "dev.deskpulse.KWin";
var PATH = "/dev/deskpulse/KWin";
var IFACE = "dev.deskpulse.KWin1";
var followed = null;

function describe(window) {
    if (!window)
        return ["", "", "", 0];
    return [String(window.caption || ""), String(window.resourceClass || ""),
            String(window.desktopFileName || ""), Number(window.pid) > 0 ? Number(window.pid) : 0];
}

function report() {
    var active = workspace.activeWindow !== undefined ? workspace.activeWindow
                                                       : workspace.activeClient;
    var state = describe(active);
    callDBus(SERVICE, PATH, IFACE, "Focus", state[0], state[1], state[2], state[3]);
}

function follow(window) {
    if (followed && followed.captionChanged)
        followed.captionChanged.disconnect(report);
    followed = window || null;
    if (followed && followed.captionChanged)
        followed.captionChanged.connect(report);
    report();
}

// KWin 6 names it windowActivated, KWin 5 clientActivated
(workspace.windowActivated || workspace.clientActivated).connect(follow);
follow(workspace.activeWindow !== undefined ? workspace.activeWindow : workspace.activeClient);
