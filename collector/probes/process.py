"""Process name and executable path from a pid (psutil), cached per pid."""

from __future__ import annotations

from functools import lru_cache

import psutil


@lru_cache(maxsize=256)
def _describe(pid: int, create_time: float) -> tuple[str, str]:
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
    try:
        created = psutil.Process(pid).create_time()  # keys the cache: pids are reused
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "", ""
    return _describe(pid, created)
