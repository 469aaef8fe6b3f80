"""A clean Debian root for package install tests: debootstrap once, then a fresh copy per test.

The minimal root (``debootstrap --variant=minbase bookworm``: no Python in it) is made once
and kept as a tarball under the test cache (``DESKPULSE_TEST_CACHE``, default
``~/.cache/deskpulse-tests``); each test unpacks its own copy into its tmp dir (a few
seconds). Commands run in it with ``chroot`` inside one private mount namespace
per root (``unshare --mount``, entered with ``nsenter``), where ``/proc``, ``/dev`` and the
host's ``/tmp/.X11-unix`` (the test's Xvfb) are mounted: nothing is mounted on the host, and
the mounts are gone when the root is deleted. The broker and the store are on loopback,
which a chroot shares.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import time
from pathlib import Path

from tests.integration.xdesktop import require

SUITE = "bookworm"
MIRROR = os.environ.get("DESKPULSE_DEBIAN_MIRROR", "http://deb.debian.org/debian")
#: what every command in the root gets (nothing of the host's environment leaks in)
BASE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}

#: the namespace's holder: mounts what the root needs, then waits (until the test ends)
_HOLD = r"""
set -e
root=$1
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mkdir -p "$root/tmp/.X11-unix"
mount --bind /tmp/.X11-unix "$root/tmp/.X11-unix"
touch "$root/.mounted"
exec sleep 3600
"""


def cache_dir() -> Path:
    return Path(os.environ.get("DESKPULSE_TEST_CACHE") or
                Path.home() / ".cache" / "deskpulse-tests")


def base_tarball() -> Path:
    """The cached minbase root as a tarball, made with debootstrap on first use."""
    require("debootstrap", "unshare", "chroot")
    folder = cache_dir() / "debootstrap"
    folder.mkdir(parents=True, exist_ok=True)
    tarball = folder / f"{SUITE}-minbase.tar"
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one maker at a time; the others wait and reuse it
        if tarball.exists():
            return tarball
        work = folder / f"{SUITE}-minbase.tmp"
        shutil.rmtree(work, ignore_errors=True)
        done = subprocess.run(["debootstrap", "--variant=minbase", SUITE, str(work), MIRROR],
                              capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            shutil.rmtree(work, ignore_errors=True)
            raise RuntimeError(f"debootstrap failed ({done.returncode}): {done.stdout[-2000:]}"
                               f"{done.stderr[-2000:]}")
        partial = tarball.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(work), "-cf", str(partial), "."], check=True,
                       timeout=300)
        partial.rename(tarball)
        shutil.rmtree(work, ignore_errors=True)
    return tarball


class DebRoot:
    """A fresh copy of the clean root in ``path``, with its own mount namespace.

    Every command enters the same namespace (``nsenter``), as processes of one machine do:
    a maintainer script sees the collectors that another command started.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._started: list[subprocess.Popen[bytes]] = []
        path.mkdir(parents=True)
        subprocess.run(["tar", "-C", str(path), "-xf", str(base_tarball())], check=True,
                       timeout=300)
        self._holder = subprocess.Popen(["unshare", "--mount", "sh", "-c", _HOLD, "sh",
                                         str(path)], stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not (path / ".mounted").exists():
            if self._holder.poll() is not None or time.monotonic() > deadline:
                self.remove()
                raise RuntimeError("could not mount /proc, /dev and /tmp/.X11-unix "
                                   "in the root's namespace")
            time.sleep(0.05)

    def argv(self, *cmd: str, user: str | None = None) -> list[str]:
        spec = [f"--userspec={user}:{user}"] if user else []
        return ["nsenter", f"--mount=/proc/{self._holder.pid}/ns/mnt", "--", "chroot", *spec,
                str(self.path), *cmd]

    def env(self, user: str | None = None, **extra: str) -> dict[str, str]:
        home = f"/home/{user}" if user else "/root"
        return {**BASE_ENV, "HOME": home, "USER": user or "root", "LOGNAME": user or "root",
                **extra}

    def run(self, *cmd: str, user: str | None = None, timeout: float = 120,
            check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(self.argv(*cmd, user=user), env=self.env(user, **env),
                              capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {done.returncode} in the root:\n"
                                 f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done

    def popen(self, *cmd: str, user: str | None = None, log: Path,
              **env: str) -> subprocess.Popen[bytes]:
        """A long-running command; its pid is the command's own (sh and chroot exec it)."""
        with log.open("ab") as out:
            proc = subprocess.Popen(self.argv(*cmd, user=user), env=self.env(user, **env),
                                    stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
        self._started.append(proc)
        return proc

    def file(self, inside: str) -> Path:
        """A path of the root, seen from the host."""
        return self.path / inside.lstrip("/")

    def remove(self) -> None:
        """End the namespace (its mounts go with it), then delete the copy."""
        for proc in [*self._started, self._holder]:  # what a failed test left running
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        with contextlib.suppress(OSError):
            shutil.rmtree(self.path)
