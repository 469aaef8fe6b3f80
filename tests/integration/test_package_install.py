"""The .deb on a clean Debian root without Python: install, collect, upgrade, remove.

``deploy/packaging/build.sh`` freezes the collector (PyInstaller) and packages it (nfpm)
into the test's folder; a minimal Debian root (debootstrap, cached: tests/helpers/debroot.py)
gets it with ``dpkg -i``; the frozen collector then runs in that root, as a person of the
root, on the test's Xvfb, publishing to the embedded stack on loopback — and the spans it
records are read back from ClickHouse. The root has no python3 at all.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from deskpulse.core.procs import free_port
from tests.conftest import wait_for
from tests.helpers.debroot import DebRoot, base_tarball
from tests.integration.xdesktop import require, x_desktop

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
USER, UID = "desk", 1500
BIN = "/usr/lib/deskpulse/collector/deskpulse-collector"
SPOOL = f"/home/{USER}/.local/share/deskpulse/collector/spool.db"
UNIT = "deskpulse-collector.service"
WANTS = f"/etc/systemd/user/graphical-session.target.wants/{UNIT}"


@pytest.fixture(scope="module")
def packages(tmp_path_factory) -> dict[str, Path]:
    """The frozen collector packaged twice: the release and a later one (the upgrade)."""
    require("go")
    base_tarball()  # debootstrap now (once, cached), not inside a test's timings
    build = tmp_path_factory.mktemp("package")
    env = {**os.environ, "DESKPULSE_PKG_BUILD": str(build), "PY": str(REPO / ".venv" /
                                                                        "bin" / "python")}
    if not Path(env["PY"]).exists():
        env["PY"] = shutil.which("python3") or "python3"
    script = str(REPO / "deploy" / "packaging" / "build.sh")
    for args in (["freeze"], ["pkg", "0.1.0", str(build / "v1")],
                 ["pkg", "0.1.0+t2", str(build / "v2")]):
        done = subprocess.run([script, *args], env=env, capture_output=True, text=True,
                              timeout=900, cwd=REPO)
        assert done.returncode == 0, f"build.sh {args}: {done.stdout[-3000:]}{done.stderr}"
    return {"v1": next((build / "v1").glob("*.deb")), "v2": next((build / "v2").glob("*.deb")),
            "rpm": next((build / "v1").glob("*.rpm"))}


@pytest.fixture()
def root(tmp_path) -> DebRoot:
    root = DebRoot(tmp_path / "root")
    root.run("useradd", "--create-home", "--uid", str(UID), "--shell", "/bin/sh", USER)
    try:
        yield root
    finally:
        root.remove()


def install(root: DebRoot, deb: Path, **env: str) -> str:
    shutil.copy(deb, root.file(f"/tmp/{deb.name}"))
    return root.run("dpkg", "-i", f"/tmp/{deb.name}", **env).stdout


def configure(root: DebRoot, bootstrap: str, host: str = "debroot-host") -> None:
    """The admin's edit of the conffile: the broker, and fast polling for the test."""
    conf = root.file("/etc/deskpulse/config.toml")
    text = conf.read_text().replace('bootstrap = "kafka.example.invalid:9093"',
                                    f'bootstrap = "{bootstrap}"')
    text = text.replace("poll_interval = 1.0", "poll_interval = 0.5\npulsetime = 1.5\n"
                        f"max_span = 2\nhost = \"{host}\"")
    assert text != conf.read_text()
    conf.write_text(text)


class Frozen:
    """The packaged collector running in the root as the person ``desk``."""

    def __init__(self, root: DebRoot, display: str, log: Path, user: str = USER,
                 uid: int = UID) -> None:
        self.root, self.log, self.user = root, log, user
        self.env = {"DISPLAY": display, "XDG_RUNTIME_DIR": f"/run/user/{uid}"}
        runtime = root.file(f"/run/user/{uid}")
        runtime.mkdir(parents=True, exist_ok=True)
        os.chown(runtime, uid, uid)
        runtime.chmod(0o700)
        self.proc = root.popen("deskpulse-collector", "collect", user=user, log=log,
                               **self.env)
        wait_for(self._answers, 60, "the frozen collector's control socket")

    def _answers(self) -> bool:
        assert self.proc.poll() is None, self.log.read_text()[-3000:]
        return self.ctl("status", check=False).returncode == 0

    def ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.root.run("deskpulse-collector", *args, user=self.user, check=check,
                             **self.env)

    def waiting(self) -> int:
        """The events in its spool, from ``deskpulse-collector status``."""
        found = re.search(r"spool: (\d+) events waiting", self.ctl("status").stdout)
        assert found, self.ctl("status").stdout
        return int(found.group(1))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)


def report_tab(port: int, token: str) -> int:
    """What the browser extension sends; the endpoint's HTTP status."""
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/active-tab", method="POST",
        data=b'{"browser": "chromium", "url": "https://example.org/a", "title": "A"}',
        headers={"Origin": "chrome-extension://abcdefghijklmnop",
                 "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def spooled(root: DebRoot, spool: str = SPOOL) -> int:
    db = sqlite3.connect(f"file:{root.file(spool)}?mode=ro", uri=True)
    try:
        return db.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        db.close()


def spans(stack_store, host: str = "debroot-host") -> list:
    _, rows = stack_store.query(
        "SELECT app, title, user, toUnixTimestamp64Milli(start) FROM deskpulse.activity_spans "
        f"WHERE host = '{host}' ORDER BY start")
    return [tuple(r) for r in rows]


def test_the_deb_installs_on_a_root_without_python_and_its_spans_reach_clickhouse(
        packages, root, stack, stack_store, tmp_path):
    no_python = root.run("sh", "-c", "command -v python3 || command -v python || "
                         "ls /usr/lib/python3* /usr/lib/x86_64-linux-gnu/libpython3*",
                         check=False)
    assert no_python.returncode != 0, f"the clean root has a Python: {no_python.stdout}"
    install(root, packages["v1"])
    status = root.run("dpkg-query", "-W", "-f", "${Status} ${Version}\n${Conffiles}\n",
                      "deskpulse-collector").stdout
    assert status.startswith("install ok installed 0.1.0-1"), status
    assert "/etc/deskpulse/config.toml" in status, "the default config is a conffile"
    assert os.readlink(root.file(WANTS)) == f"/usr/lib/systemd/user/{UNIT}", \
        "the user unit is enabled for every graphical session"
    assert root.file("/usr/share/gnome-shell/extensions/deskpulse-focus@deskpulse.dev/"
                     "metadata.json").exists()
    token = root.file("/etc/deskpulse/browser-token").read_text().strip()
    assert len(token) >= 32
    install(root, packages["v1"])  # installing again changes nothing and fails nothing
    assert root.file("/etc/deskpulse/browser-token").read_text().strip() == token
    assert "0.1.0" in root.run("deskpulse-collector", "--version", user=USER).stdout

    configure(root, stack.broker)
    port = free_port()  # the browser endpoint, with the token the package made
    conf = root.file("/etc/deskpulse/config.toml")
    conf.write_text(conf.read_text().replace("# browser_port = 5866", f"browser_port = {port}"))
    with x_desktop(tmp_path) as (desktop, _):
        desktop.open_window("Packaged alpha", "Pkgalpha")
        desktop.open_window("Packaged beta", "Pkgbeta")
        desktop.activate("Packaged alpha")
        collector = Frozen(root, desktop.display, tmp_path / "frozen.log")
        try:
            assert report_tab(port, token) == 204, "the frozen browser endpoint takes a report"
            assert report_tab(port, "wrong-" + token) == 401
            time.sleep(2)
            desktop.activate("Packaged beta")
            time.sleep(2)
            paused = collector.ctl("collector", "pause", "--for", "10m").stdout
            assert "private mode: ON" in paused, paused
            desktop.activate("Packaged alpha")  # private: never recorded
            desktop.open_window("Private gamma", "Pkggamma")
            desktop.activate("Private gamma")
            time.sleep(1.5)
            desktop.activate("Packaged beta")
            resumed_ms = time.time() * 1000  # a Pkgbeta span from here on is after the resume
            assert "private mode: off" in collector.ctl("resume").stdout
            time.sleep(2)
            status = collector.ctl("status").stdout
            assert "probe x11" in status, status
        finally:
            assert collector.stop() == 0
    def betas() -> set[bool]:  # a Pkgbeta span before the pause, and one after the resume
        return {start >= resumed_ms for app, _, _, start in spans(stack_store)
                if app == "Pkgbeta"}
    wait_for(lambda: betas() == {True, False}, 120,
             "the frozen collector's spans in ClickHouse", interval=1)
    rows = spans(stack_store)
    assert {r[2] for r in rows} == {USER}
    assert rows[0][:3] == ("Pkgalpha", "Packaged alpha", USER)
    assert {r[1] for r in rows if r[0] == "Pkgbeta"} == {"Packaged beta"}
    assert "Pkggamma" not in {r[0] for r in rows}, "recorded in private mode"


def test_an_upgrade_keeps_config_token_and_spool(packages, root, stack, stack_store, tmp_path):
    install(root, packages["v1"])
    token = root.file("/etc/deskpulse/browser-token").read_text()
    configure(root, f"127.0.0.1:{free_port()}", host="upgraded-host")  # no broker there yet
    edited = root.file("/etc/deskpulse/config.toml").read_text()
    with x_desktop(tmp_path) as (desktop, _):
        desktop.open_window("Before upgrade", "Pkgold")
        desktop.open_window("Also before", "Pkgold2")
        collector = Frozen(root, desktop.display, tmp_path / "v1.log")
        for title in ("Before upgrade", "Also before", "Before upgrade"):
            desktop.activate(title)
            time.sleep(1.2)
        wait_for(lambda: collector.waiting() >= 2, 30, "spans waiting in the spool")
        install(root, packages["v2"])  # with the old collector running
        assert collector.proc.wait(30) == 0, "the upgrade stops the old version cleanly"
        kept = spooled(root)
        assert kept >= 2
        status = root.run("dpkg-query", "-W", "-f", "${Status} ${Version}",
                          "deskpulse-collector").stdout
        assert status == "install ok installed 0.1.0+t2-1", status
        assert root.file("/etc/deskpulse/config.toml").read_text() == edited, \
            "the admin's edit of the conffile is kept"
        assert not list(root.file("/etc/deskpulse").glob("config.toml.dpkg-*"))
        assert root.file("/etc/deskpulse/browser-token").read_text() == token
        assert os.readlink(root.file(WANTS)) == f"/usr/lib/systemd/user/{UNIT}"

        # the broker is there now: the spans spooled under the old version arrive
        conf = root.file("/etc/deskpulse/config.toml")
        conf.write_text(re.sub(r'bootstrap = "[^"]*"', f'bootstrap = "{stack.broker}"',
                               conf.read_text()))
        desktop.activate("Also before")
        collector = Frozen(root, desktop.display, tmp_path / "v2.log")
        wait_for(lambda: collector.waiting() == 0, 60, "the spool to be sent")
        assert collector.stop() == 0
    wait_for(lambda: {"Pkgold", "Pkgold2"} <= {r[0] for r in spans(stack_store,
                                                                    "upgraded-host")},
             120, "the spans spooled before the upgrade in ClickHouse", interval=1)


def test_removal_stops_every_collector_and_removes_the_spool_unless_asked(packages, root,
                                                                         tmp_path):
    root.run("useradd", "--create-home", "--uid", str(UID + 1), "--shell", "/bin/sh", "desk2")
    spools = [SPOOL, SPOOL.replace(f"/home/{USER}/", "/home/desk2/")]
    with x_desktop(tmp_path) as (desktop, _):
        desktop.open_window("Removal", "Pkgremoval")
        desktop.activate("Removal")

        def two_collectors(tag: str) -> list[Frozen]:
            running = [Frozen(root, desktop.display, tmp_path / f"{tag}-{user}.log", user, uid)
                       for user, uid in ((USER, UID), ("desk2", UID + 1))]
            for collector in running:
                wait_for(lambda c=collector: c.waiting() >= 1, 30, "a span in the spool")
            return running

        install(root, packages["v1"])
        configure(root, f"127.0.0.1:{free_port()}", host="removed-host")
        running = two_collectors("first")
        root.run("dpkg", "--remove", "deskpulse-collector")
        assert [c.proc.wait(30) for c in running] == [0, 0], "every collector stopped"
        for spool in spools:
            assert not root.file(spool).exists(), f"{spool} left behind"
            assert not root.file(spool + "-wal").exists()
        assert not root.file(BIN).exists()
        assert root.file("/etc/deskpulse/config.toml").exists(), "remove keeps the conffile"
        root.run("dpkg", "--purge", "deskpulse-collector")
        for gone in ("/etc/deskpulse", WANTS, "/usr/lib/deskpulse",
                     "/usr/share/gnome-shell/extensions/deskpulse-focus@deskpulse.dev"):
            assert not root.file(gone).exists(), f"{gone} left after purge"

        # asked to keep it: the spool stays (e.g. to reinstall and send it later)
        install(root, packages["v1"])
        configure(root, f"127.0.0.1:{free_port()}", host="removed-host")
        running = two_collectors("second")
        root.run("dpkg", "--remove", "deskpulse-collector", DESKPULSE_KEEP_SPOOL="1")
        assert [c.proc.wait(30) for c in running] == [0, 0]
        assert all(spooled(root, spool) >= 1 for spool in spools)


def test_the_rpm_installs_runs_and_erases_cleanly(packages, root):
    """rpm's own tools (``rpm --root``: scriptlets run chrooted in the root's /bin/sh)."""
    require("rpm")
    rpm = ["rpm", "--root", str(root.path), "--dbpath", "/var/lib/rpm"]
    subprocess.run([*rpm, "--initdb"], check=True, timeout=60)
    shutil.copy(packages["rpm"], root.file("/tmp/collector.rpm"))
    # the root is Debian's: rpm does not know its glibc, so --nodeps (dpkg checks it above)
    for _ in range(2):  # installing the same package again is refused, and harmless
        done = subprocess.run([*rpm, "-i", "--nodeps", str(root.file("/tmp/collector.rpm"))],
                              capture_output=True, text=True, timeout=120)
    assert "already installed" in done.stderr, done.stderr
    assert os.readlink(root.file(WANTS)) == f"/usr/lib/systemd/user/{UNIT}"
    assert len(root.file("/etc/deskpulse/browser-token").read_text().strip()) >= 32
    assert "0.1.0" in root.run("deskpulse-collector", "--version", user=USER).stdout
    configs = subprocess.run([*rpm, "-qc", "deskpulse-collector"], capture_output=True,
                             text=True, timeout=60).stdout.split()
    assert configs == ["/etc/deskpulse/config.toml"]
    subprocess.run([*rpm, "-e", "deskpulse-collector"], check=True, timeout=120)
    for gone in (BIN, WANTS, "/etc/deskpulse/browser-token",
                 "/usr/share/gnome-shell/extensions/deskpulse-focus@deskpulse.dev"):
        assert not root.file(gone).exists(), f"{gone} left after rpm -e"
