"""The device-authentication policy records (topic ``deskpulse.policy.device``). Pure.

A tenant's mode (``enforce``, ``warn``, ``off``; see :mod:`streams.auth`) and the
revocation floors of computers or of one person on a computer, as
``deskpulse device mode`` / ``revoke`` / ``allow`` publish them and the stream worker
applies them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from deskpulse.core.errors import PolicyError

MODES = ("enforce", "warn", "off")
#: a floor above every generation: the credential is revoked whatever its generation
REVOKED = 1 << 62


def mode_key(tenant: str) -> str:
    return f"mode/{tenant}"


def floor_key(tenant: str, host: str, user: str | None) -> str:
    """The policy key of a revocation: one host (every user), or one person on a host."""
    return "floor/" + orjson.dumps([tenant, host, user or ""]).decode()


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise PolicyError(f"device authentication mode must be one of {', '.join(MODES)}, "
                          f"not {mode!r}")
    return mode


@dataclass
class DevicePolicy:
    """Per-tenant modes and revocation floors, updated from ``deskpulse.policy.device``."""

    modes: dict[str, str] = field(default_factory=dict)
    #: (tenant, host, user or "") -> the lowest generation still accepted
    floors: dict[tuple[str, str, str], int] = field(default_factory=dict)
    records: dict[str, dict] = field(default_factory=dict)

    def apply(self, key: str, record: dict | None) -> None:
        old = self.records.pop(key, None)
        if old is not None:
            self._unset(old)
        if record is None:
            return
        if "mode" in record:
            self.modes[str(record["tenant"])] = check_mode(record["mode"])
        else:
            below = record.get("below")
            floor = REVOKED if below is None else int(below)
            self.floors[(str(record["tenant"]), str(record["host"]),
                         str(record.get("user") or ""))] = floor
        self.records[key] = record

    def _unset(self, record: dict) -> None:
        if "mode" in record:
            self.modes.pop(record["tenant"], None)
        else:
            self.floors.pop((record["tenant"], record["host"], record.get("user") or ""), None)

    def floor(self, tenant: str, host: str, user: str) -> int:
        if not self.floors:
            return 0
        get = self.floors.get
        return max(get((tenant, host, ""), 0), get((tenant, host, user), 0))


def mode_record(tenant: str, mode: str, at_ms: int) -> dict:
    return {"tenant": tenant, "mode": check_mode(mode), "at_ms": at_ms}


def revocation_record(tenant: str, host: str, user: str | None, below: int | None,
                      at_ms: int, reason: str = "") -> dict:
    """Refuse the credentials of ``host`` (of ``user`` on it) with a generation below
    ``below``; ``None``: every generation."""
    return {"tenant": tenant, "host": host, "user": user or "", "below": below,
            "at_ms": at_ms, "reason": reason}
