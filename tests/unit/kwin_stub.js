// Runs the shipped KWin script under node with KWin's script API stubbed; prints the calls.
// usage: node kwin_stub.js SCRIPT 5|6
const fs = require("fs");
const vm = require("vm");
const [script, major] = process.argv.slice(2);

function signal() {
    const slots = [];
    return { connect: f => slots.push(f), disconnect: f => slots.splice(slots.indexOf(f), 1),
             emit: (...a) => slots.slice().forEach(f => f(...a)), slots };
}
function win(caption, cls, desktop, pid) {
    return { caption, resourceClass: cls, desktopFileName: desktop, pid, captionChanged: signal() };
}
const calls = [];
const workspace = {};
const activated = signal();
if (major === "6") { workspace.activeWindow = null; workspace.windowActivated = activated; }
else { workspace.activeClient = null; workspace.clientActivated = activated; }
const key = major === "6" ? "activeWindow" : "activeClient";
const context = { workspace, callDBus: (...a) => calls.push(a), String, Number };
const a = win("Report.odt", "libreoffice-writer", "libreoffice-writer", 41);
const b = win("Inbox", "thunderbird", "", 0);
vm.runInNewContext(fs.readFileSync(script, "utf8"), context);
workspace[key] = a; activated.emit(a);
a.caption = "Report v2.odt"; a.captionChanged.emit();
workspace[key] = b; activated.emit(b);
a.caption = "Report v3.odt"; a.captionChanged.emit();   // no longer followed: no call
workspace[key] = null; activated.emit(null);
console.log(JSON.stringify({ calls, followedSlots: a.captionChanged.slots.length + b.captionChanged.slots.length }));
