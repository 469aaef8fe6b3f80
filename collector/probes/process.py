"""Process name and executable path from a pid, cached per pid and start time.

On Linux both come straight from ``/proc`` (``stat``, ``cmdline``, the ``exe`` link),
as psutil reads them, without loading psutil into the collector (about 0.8-1.6 MB of
its RSS budget with what psutil imports, issue 21). Elsewhere (macOS) psutil does it.
The name follows psutil's rule: the kernel's ``comm`` (15 characters at most), or the
basename of ``argv[0]`` when ``comm`` was cut short and that basename starts with it.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache

_COMM_MAX = 15  # TASK_COMM_LEN - 1


def parse_stat(stat: bytes) -> tuple[str, str]:
    """``(comm, start time in clock ticks)`` from a ``/proc/PID/stat`` line.

    ``comm`` may hold spaces and parentheses: it runs from the first ``(`` to the last ``)``.
    """
    open_at, close_at = stat.find(b"("), stat.rfind(b")")
    if open_at < 0 or close_at < open_at:
        raise ValueError("not a /proc/PID/stat line")
    fields = stat[close_at + 2:].split()
    if len(fields) < 20:
        raise ValueError("not a /proc/PID/stat line")
    return stat[open_at + 1:close_at].decode("utf-8", "replace"), fields[19].decode()


def name_from(comm: str, cmdline: bytes) -> str:
    """psutil's ``Process.name()`` from ``comm`` and the raw ``/proc/PID/cmdline``."""
    if len(comm) < _COMM_MAX or not cmdline:
        return comm
    argv0 = cmdline.split(b"\0", 1)[0].decode("utf-8", "replace")
    extended = os.path.basename(argv0)
    return extended if extended.startswith(comm) else comm


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _exe(pid: int, proc: str = "/proc") -> str:
    try:
        exe = os.readlink(f"{proc}/{pid}/exe")
    except OSError:  # another user's process, a kernel thread, gone
        return ""
    exe = exe.split("\0", 1)[0]
    if exe.endswith(" (deleted)") and not os.path.exists(exe):
        exe = exe[:-len(" (deleted)")]
    return exe


@lru_cache(maxsize=256)
def _describe_linux(pid: int, start: str, comm: str, proc: str) -> tuple[str, str]:
    try:
        cmdline = _read(f"{proc}/{pid}/cmdline") if len(comm) >= _COMM_MAX else b""
    except OSError:
        cmdline = b""
    return name_from(comm, cmdline), _exe(pid, proc)


def describe_linux(pid: int, proc: str = "/proc") -> tuple[str, str]:
    try:
        comm, start = parse_stat(_read(f"{proc}/{pid}/stat"))
    except (OSError, ValueError):
        return "", ""
    return _describe_linux(pid, start, comm, proc)  # keyed by the start time: pids are reused


@lru_cache(maxsize=256)
def _describe_psutil(pid: int, create_time: float) -> tuple[str, str]:
    import psutil
    try:
        proc = psutil.Process(pid)
        name = proc.name()
        try:
            exe = proc.exe()
        except (psutil.AccessDenied, psutil.ZombieProcess, OSError):
            exe = ""
        return name, exe
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "", ""


def describe_process(pid: int) -> tuple[str, str]:
    """``(name, exe)`` of ``pid``; empty strings when it cannot be read."""
    if pid <= 0:
        return "", ""
    if sys.platform.startswith("linux"):
        return describe_linux(pid)
    import psutil
    try:
        created = psutil.Process(pid).create_time()  # keys the cache: pids are reused
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "", ""
    return _describe_psutil(pid, created)
