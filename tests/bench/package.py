"""The frozen collector and its packages: build time, sizes, start time, RSS and CPU.

Builds with ``deploy/packaging/build.sh`` into a temporary folder (PyInstaller, then nfpm),
then measures the frozen collector beside the venv one: the time from exec to the first
answer of its control channel (median of ``--starts``), and CPU and RSS on Xvfb at 1 s
polling with a window switch every 2 s (``tests.bench.collector``), back to back. Run
alone: ``.venv/bin/python -m tests.bench.package --seconds 120``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from collector.control import request
from deskpulse.core.errors import DeskpulseError
from deskpulse.core.procs import Child
from tests.bench import collector
from tests.bench.report import record
from tests.integration.xdesktop import x_desktop

REPO = Path(__file__).resolve().parents[2]


def build(out: Path) -> dict[str, float]:
    env = {**os.environ, "DESKPULSE_PKG_BUILD": str(out), "PY": sys.executable}
    script = str(REPO / "deploy" / "packaging" / "build.sh")
    times = {}
    for step in ("freeze", "pkg"):
        t0 = time.monotonic()
        subprocess.run([script, step], env=env, check=True, cwd=REPO, timeout=1200,
                       capture_output=True)
        times[step] = time.monotonic() - t0
    folder = out / "dist" / "deskpulse-collector"
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return {"freeze_s": times["freeze"], "pkg_s": times["pkg"], "bundle_mb": size / 2**20,
            "deb_mb": next(out.glob("*.deb")).stat().st_size / 2**20,
            "rpm_mb": next(out.glob("*.rpm")).stat().st_size / 2**20}


def start_s(command: list[str], tmp: Path, display: str, runs: int) -> float:
    """Median seconds from exec to the control channel's first answer."""
    times = []
    for n in range(runs):
        sock = tmp / f"ctl-{n}.sock"
        config = tmp / "start.toml"
        config.write_text(f'[collector]\ncontrol_socket = "{sock}"\n'
                          f'spool_path = "{tmp / f"spool-{n}.db"}"\n'
                          f'log_file = "{tmp / "start.log"}"\n')
        env = {**os.environ, "DISPLAY": display, "DESKPULSE_CONFIG": str(config),
               "DESKPULSE_BOOTSTRAP": "127.0.0.1:9", "DESKPULSE_DATA_DIR": str(tmp)}
        env.pop("WAYLAND_DISPLAY", None)
        t0 = time.monotonic()
        child = Child("start", command, tmp / "start.out", env=env)
        try:
            while time.monotonic() - t0 < 60:
                try:
                    request(sock, {"cmd": "status"}, timeout=1)
                    break
                except DeskpulseError:
                    time.sleep(0.01)
            times.append(time.monotonic() - t0)
        finally:
            child.stop(timeout=20)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="deskpulse-package-") as name:
        tmp = Path(name)
        tmp.chmod(0o755)
        print("building the frozen collector and its packages ...", flush=True)
        built = build(tmp / "build")
        frozen = [str(tmp / "build" / "dist" / "deskpulse-collector" / "deskpulse-collector"),
                  "collect"]
        venv = [sys.executable, "-m", "deskpulse.cli", "collect"]
        with x_desktop(tmp) as (desk, _):
            starts = {label: start_s(cmd, tmp, desk.display, args.starts)
                      for label, cmd in (("frozen", frozen), ("venv", venv))}
        print(f"measuring CPU and RSS for {args.seconds:.0f}s each ...", flush=True)
        running = {"frozen": collector.measure(args.seconds, "x11", command=frozen),
                   "venv": collector.measure(args.seconds, "x11")}
    rows = "\n".join(
        f"| {label} | {starts[label]:.2f} | {running[label]['cpu_pct_of_one_core']} | "
        f"{running[label]['rss_mb_mean']} / {running[label]['rss_mb_max']} |"
        for label in ("frozen", "venv"))
    cpu_diff = (running["frozen"]["cpu_pct_of_one_core"] -
                running["venv"]["cpu_pct_of_one_core"])
    rss_diff = running["frozen"]["rss_mb_mean"] - running["venv"]["rss_mb_mean"]

    def verdict(ok: bool) -> str:
        return "no worse: meets" if ok else "worse: MISSES"
    body = f"""## Frozen collector and packages

`make package` (`deploy/packaging/build.sh`): PyInstaller freezes the collector alone
(`collector/standalone.py`; no click, chDB, Faust) in {built['freeze_s']:.0f} s, nfpm makes
the .deb and .rpm in {built['pkg_s']:.0f} s. Bundle (one folder, Linux x86_64):
{built['bundle_mb']:.1f} MB; `.deb` {built['deb_mb']:.1f} MB, `.rpm` {built['rpm_mb']:.1f} MB.
Command: `.venv/bin/python -m tests.bench.package --seconds {args.seconds:.0f}`.

Start: exec to the control channel's first answer (median of {args.starts}), Xvfb. Running:
Xvfb + openbox, 1 s polling, a window switch every 2 s, {args.seconds:.0f} s after a
{collector.WARMUP_S:.0f} s warm-up, one after the other (target: frozen no worse than venv).

| collector | start, s | CPU, % of one core | RSS mean / max, MB |
|---|---|---|---|
{rows}

Frozen minus venv: CPU {cpu_diff:+.3f} points ({verdict(cpu_diff <= 0.02)}), RSS
{rss_diff:+.1f} MB ({verdict(rss_diff <= 0.3)}); this machine is shared, so a difference within
a few tenths is noise."""
    record("package", body)
    print(body)
    return {"build": built, "starts": starts, "running": running}


if __name__ == "__main__":
    main()
