"""Device secrets and credentials on disk: read only when private, written 0600.

The pure part (derivation, signing, file formats) is :mod:`schemas.auth`; this
module reads and writes the files, and finds the embedded stack's secret.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from deskpulse.errors import ConfigError
from deskpulse.settings import device_secret_source
from schemas.auth import (
    CredentialError,
    DeviceCredential,
    EnrolmentSecret,
    Signer,
    new_root_secret,
    parse_secret,
    parse_signer,
)

logger = logging.getLogger(__name__)

#: the embedded stack's deployment secret, in its data dir
STACK_SECRET_FILE = "device-secret"


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


def write_private(path: Path, text: str, *, overwrite: bool = True) -> None:
    """Write ``text`` to ``path`` with mode 0600 from the first byte (atomically)."""
    if not overwrite and path.exists():
        raise ConfigError(f"{path} exists already", hint="remove it first, or write elsewhere")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None


def load_secret(file: str | Path | None = None, environ: Mapping[str, str] | None = None,
                *, data_dir: Path | None = None) -> EnrolmentSecret | None:
    """The deployment or tenant secret: ``file``, ``DESKPULSE_DEVICE_SECRET_FILE``,
    ``DESKPULSE_DEVICE_SECRET``, then the embedded stack's in ``data_dir``; None if none."""
    path, value = device_secret_source(file, environ)
    try:
        if path is not None:
            return parse_secret(read_private(path, "device secret file"))
        if value is not None:
            return parse_secret(value)
        if data_dir is not None and (data_dir / STACK_SECRET_FILE).exists():
            stack_file = data_dir / STACK_SECRET_FILE
            return parse_secret(read_private(stack_file, "device secret file"))
    except CredentialError as exc:
        where = path or ("$DESKPULSE_DEVICE_SECRET" if value is not None else data_dir)
        raise CredentialError(f"{where}: {exc.message}") from None
    return None


def load_signer(path: Path) -> Signer:
    """The signer of a credential file (``[kafka] device_credential``)."""
    try:
        return parse_signer(read_private(path, "device credential"))
    except CredentialError as exc:
        raise CredentialError(f"{path}: {exc.message}", hint=exc.hint) from None


def check_credential(path: Path | None, tenant: str, host: str, user: str) -> None:
    """Refuse, before anything is recorded, a device credential that does not cover the
    collector's own tenant, host and user (every event would be refused)."""
    if path is None:
        return
    signer = load_signer(path)
    if isinstance(signer, DeviceCredential) and not signer.covers(tenant, host, user):
        signer.sign(tenant, host, user, b"", b"")  # raises, saying whom it covers


def ensure_stack_secret(data_dir: Path) -> Path:
    """The embedded stack's deployment secret file, created (0600) on first use."""
    path = data_dir / STACK_SECRET_FILE
    if not path.exists():
        write_private(path, EnrolmentSecret(new_root_secret()).to_text(), overwrite=False)
        logger.info("created the embedded stack's device secret %s", path)
    return path
