"""Files of the collector that only the person it runs for may read: 0600 files in 0700 dirs.

The spool (window titles, URLs), the log and the control socket belong to the
person logged in. Each is created private and made private again at start when
an older version (or a copy) left it group- or world-readable. A directory or
file that belongs to another user is refused: it could be swapped or read by
that user (a shared ``/tmp`` is the classic case).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

from deskpulse.core.errors import ConfigError

logger = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


def _owned(path: Path, st: os.stat_result, what: str) -> None:
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        raise ConfigError(f"{what} {path} belongs to another user (uid {st.st_uid}); the "
                          "collector keeps its files only in places that are its user's",
                          hint="point the setting at a directory of your own")


def _tighten(path: Path, st: os.stat_result, mode: int) -> None:
    if os.name != "posix":
        return  # Windows: modes are not permissions there; the per-user directory's ACL is
    current = stat.S_IMODE(st.st_mode)
    if current & 0o077:
        os.chmod(path, mode)
        logger.warning("made %s private (mode %04o, was %04o)", path, mode, current)


def private_dir(path: Path) -> Path:
    """``path`` as a directory of this user with mode 0700 (created, or tightened).

    A symlink to a directory of this user is fine (a data dir moved to another disk).
    """
    try:
        if not path.is_dir():
            if path.exists() or path.is_symlink():
                raise ConfigError(f"{path} should be a directory of the collector but is not")
            path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        st = path.stat()
        _owned(path, st, "directory")
        _tighten(path, st, DIR_MODE)
    except OSError as exc:
        raise ConfigError(f"cannot use the directory {path}: {exc.strerror or exc}") from exc
    return path


def private_file(path: Path, *, create: bool = True) -> Path:
    """``path`` as a regular file of this user with mode 0600 (created empty if missing).

    A symlink is refused rather than followed: the collector writes only its own files.
    """
    try:
        if create:
            with contextlib.suppress(FileExistsError):
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        try:
            st = path.lstat()
        except FileNotFoundError:
            return path
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{path} should be a regular file of the collector but is not "
                              "(a symlink, a socket or a directory)")
        _owned(path, st, "file")
        _tighten(path, st, FILE_MODE)  # a regular file (checked above): chmod cannot follow
    except OSError as exc:
        raise ConfigError(f"cannot use the file {path}: {exc.strerror or exc}") from exc
    return path
