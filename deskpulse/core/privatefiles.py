"""Files only their owner may read: secrets, tokens, the stack's records.

One way to write them (atomically, mode 0600 from the first byte) and one way to read a
secret file (refused when other users may read or change it).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from deskpulse.core.errors import ConfigError


def read_private(path: Path, what: str) -> str:
    """The text of a secret file; refused when other users may read or change it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if os.name == "posix" and mode & (stat.S_IRWXO | stat.S_IWGRP):
            raise ConfigError(f"the {what} {path} is open to other users "
                              f"(mode {stat.S_IMODE(mode):04o})", hint=f"chmod 600 {path}")
        with os.fdopen(fd, "r", encoding="utf-8", closefd=False) as fh:
            return fh.read(65536)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc}") from None
    finally:
        os.close(fd)


def write_private(path: Path, data: str | bytes, *, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` with mode 0600 from the first byte (atomically)."""
    if not overwrite and path.exists():
        raise ConfigError(f"{path} exists already", hint="remove it first, or write elsewhere")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            if hasattr(os, "fchmod"):  # not on Windows (Python < 3.13): its ACLs decide
                os.fchmod(fh.fileno(), 0o600)
            fh.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
