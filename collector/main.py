"""The collector process proper: ``python -m collector.main``.

``deskpulse collect`` checks the settings with friendly errors and then
replaces itself with this lean entry point (no click, no CLI modules), which
keeps the agent that runs all day on every desktop small. Settings come from
the same sources (flags were exported to the environment by ``collect``).

Everything the process creates is private to its user (umask 077): the spool,
the log and its rotations, the control socket. The log and its older rotations
are made 0600 at start if an earlier version left them readable.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import sys
from pathlib import Path

from deskpulse.core.errors import DeskpulseError

logger = logging.getLogger(__name__)


_M_ARENA_MAX = -8


def limit_malloc_arenas(count: int = 2) -> None:
    """Fewer glibc malloc arenas: the agent's few threads need no arena each (less RSS)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, count)


def release_free_memory() -> None:
    """Collect garbage and give freed heap pages back to the OS (glibc)."""
    gc.collect()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def private_log(path: Path) -> None:
    """The log file and its rotations (``.1`` .. ``.N``): 0600 in a 0700 directory."""
    import glob

    from collector.perms import private_dir, private_file
    private_dir(path.parent)
    private_file(path)
    for rotated in sorted(path.parent.glob(glob.escape(path.name) + ".*")):
        if rotated.suffix[1:].isdigit():
            private_file(rotated, create=False)


def main() -> int:
    limit_malloc_arenas()  # before any thread starts
    from collector.lean import without_openssl
    without_openssl()  # before anything imports hashlib/hmac/ssl: no libcrypto (RSS)
    os.umask(0o077)  # rotated logs, the spool's side files, anything new: the user's only
    from collector.config import collector_settings
    from collector.probes.select import open_session
    from collector.run import run_collector
    from deskpulse.core.logs import configure_process_logging
    from deskpulse.core.settings import collector_env, load_settings, read_config
    from deskpulse.core.stackfile import kafka_or_stack

    try:
        settings = load_settings()
        csettings = collector_settings(read_config().get("collector", {}), collector_env(),
                                       tenant=settings.tenant, data_dir=settings.data_dir)
        # a real collector signs with a credential of its own, never the stack's secret
        kafka = kafka_or_stack(settings, sign_as_stack=False)
        from deskpulse.core.devices import check_credential
        check_credential(kafka.device_credential, csettings.tenant, csettings.host,
                         csettings.user)
        session = open_session(dict(os.environ), csettings.probe, csettings.idle_threshold)
        if csettings.log_file is not None:
            private_log(csettings.log_file)
        configure_process_logging("INFO", csettings.log_file)
        return run_collector(csettings, kafka, after_start=release_free_memory,
                             session=session)
    except DeskpulseError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
