"""The .deb on a clean Debian root without Python: install, collect, upgrade, remove.

``deploy/packaging/build.sh`` freezes the collector (PyInstaller) and packages it (nfpm)
into the test's folder; a minimal Debian root (debootstrap, cached: tests/helpers/debroot.py)
gets it with ``dpkg -i``; the frozen collector then runs in that root, as a person of the
root, on the test's Xvfb, publishing to the embedded stack on loopback — and the spans it
records are read back from ClickHouse. The root has no python3 at all.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

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


def configure(root: DebRoot, bootstrap: str) -> None:
    """The admin's edit of the conffile: the broker, and fast polling for the test."""
    conf = root.file("/etc/deskpulse/config.toml")
    text = conf.read_text().replace('bootstrap = "kafka.example.invalid:9093"',
                                    f'bootstrap = "{bootstrap}"')
    text = text.replace("poll_interval = 1.0", "poll_interval = 0.5\npulsetime = 1.5\n"
                        "max_span = 2\nhost = \"debroot-host\"")
    assert text != conf.read_text()
    conf.write_text(text)


class Frozen:
    """The packaged collector running in the root as the person ``desk``."""

    def __init__(self, root: DebRoot, display: str, log: Path) -> None:
        self.root, self.log = root, log
        self.env = {"DISPLAY": display, "XDG_RUNTIME_DIR": f"/run/user/{UID}"}
        runtime = root.file(f"/run/user/{UID}")
        runtime.mkdir(parents=True, exist_ok=True)
        os.chown(runtime, UID, UID)
        runtime.chmod(0o700)
        self.proc = root.popen("deskpulse-collector", "collect", user=USER, log=log,
                               **self.env)
        wait_for(self._answers, 60, "the frozen collector's control socket")

    def _answers(self) -> bool:
        assert self.proc.poll() is None, self.log.read_text()[-3000:]
        return self.ctl("status", check=False).returncode == 0

    def ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.root.run("deskpulse-collector", *args, user=USER, check=check, **self.env)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)


def spooled(root: DebRoot) -> int:
    with sqlite3.connect(f"file:{root.file(SPOOL)}?mode=ro", uri=True) as db:
        return db.execute("SELECT count(*) FROM spool").fetchone()[0]


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
    with x_desktop(tmp_path) as (desktop, _):
        desktop.open_window("Packaged alpha", "Pkgalpha")
        desktop.open_window("Packaged beta", "Pkgbeta")
        desktop.activate("Packaged alpha")
        collector = Frozen(root, desktop.display, tmp_path / "frozen.log")
        try:
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
