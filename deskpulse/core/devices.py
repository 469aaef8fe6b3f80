"""Device secrets and credentials on disk: read only when private, written 0600.

The pure part (derivation, signing, file formats) is :mod:`schemas.auth`; this
module reads and writes the files, and finds the embedded stack's secret.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from deskpulse.core.privatefiles import read_private, write_private
from deskpulse.core.settings import device_secret_source
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
