"""Device authentication in the stream worker: is this event signed by its own computer? Pure.

The worker holds the deployment secret (:mod:`schemas.auth`) and derives each
device key from the event's tenant, host and user, so it needs no registry of
devices. What it does with an event that fails the check depends on the tenant's
mode:

``enforce``  dead-letter it with the reason (``unsigned``, ``bad_signature``,
             ``revoked_device``): nothing of it is stored
``warn``     the transition mode: accept it, but count it (metric
             ``deskpulse_stream_device_auth_total{mode="warn"}``) and log a summary
``off``      do not check

The mode of a tenant and the revoked credentials live in the compacted topic
``deskpulse.policy.device`` (``deskpulse device mode`` / ``revoke`` / ``allow``);
a tenant without a mode record has the worker's default (``--device-auth``).
"""

from __future__ import annotations

import hmac
from collections import Counter
from dataclasses import dataclass, field

import orjson

from deskpulse.errors import PolicyError
from schemas.auth import device_key, signed_bytes, tenant_secret
from schemas.validate import Invalid

MODES = ("enforce", "warn", "off")
#: a floor above every generation: the credential is revoked whatever its generation
REVOKED = 1 << 62
#: derived device keys kept per worker (a key costs two HMACs to derive again)
KEY_CACHE = 100_000


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


class DeviceAuth:
    """Checks the signature of events; counts what it let through in warn mode."""

    def __init__(self, root: bytes | None, default_mode: str = "enforce") -> None:
        self._root = root
        self.default_mode = check_mode(default_mode)
        self._tenant_keys: dict[str, bytes] = {}
        self._keys: dict[tuple[str, str, str | None, int], bytes] = {}
        #: (mode, result) -> events, since the last drain: result is "verified" or a reason
        self.results: Counter[tuple[str, str]] = Counter()
        #: (tenant, reason) -> events accepted unverified in warn mode, since the last drain
        self.warned: Counter[tuple[str, str]] = Counter()

    @property
    def has_secret(self) -> bool:
        return self._root is not None

    def check(self, devices: DevicePolicy, tenant: str, host: str, user: str,
              key: bytes, value: bytes, header: bytes | None) -> Invalid | None:
        """None when the event may go on; the reason to dead-letter it otherwise."""
        mode = devices.modes.get(tenant, self.default_mode) if devices.modes else \
            self.default_mode
        if mode == "off":
            return None
        problem = self._problem(devices, tenant, host, user, key, value, header)
        if problem is None:
            self.results[(mode, "verified")] += 1
            return None
        self.results[(mode, problem.reason)] += 1
        if mode == "warn":
            self.warned[(tenant, problem.reason)] += 1
            return None
        return problem

    def _problem(self, devices: DevicePolicy, tenant: str, host: str, user: str,
                 key: bytes, value: bytes, header: bytes | None) -> Invalid | None:
        if header is None:
            return Invalid("unsigned", "no deskpulse-auth header: the message is not signed "
                                       "by an enrolled computer", "headers")
        parts = header.split(b" ")
        if len(parts) != 4 or parts[0] != b"v1" or parts[2] not in (b"h", b"u") or \
                not parts[1].isdigit() or len(parts[1]) > 7:
            return Invalid("bad_signature", "the deskpulse-auth header is malformed", "headers")
        generation = int(parts[1])
        bound = parts[2] == b"u"
        floor = devices.floor(tenant, host, user)
        if generation < floor:
            return Invalid("revoked_device",
                           "the credential of this computer is revoked" if floor == REVOKED
                           else f"credential generation {generation} is revoked (the lowest "
                                f"accepted is {floor})", "headers")
        if self._root is None:
            return Invalid("bad_signature", "this worker holds no deployment secret to verify "
                                            "signatures with", "headers")
        ident = (tenant, host, user if bound else None, generation)
        dkey = self._keys.get(ident)
        if dkey is None:
            dkey = self._derive(ident)
        expected = hmac.digest(dkey, signed_bytes(key, value), "sha256").hex().encode()
        if not hmac.compare_digest(expected, parts[3]):
            whose = "this person on this computer" if bound else "this computer"
            return Invalid("bad_signature", f"the signature does not verify for {whose} in "
                                            f"tenant {tenant!r} (credential generation "
                                            f"{generation})", "headers")
        return None

    def _derive(self, ident: tuple[str, str, str | None, int]) -> bytes:
        tenant, host, user, generation = ident
        assert self._root is not None
        tkey = self._tenant_keys.get(tenant)
        if tkey is None:
            tkey = self._tenant_keys[tenant] = tenant_secret(self._root, tenant)
        if len(self._keys) >= KEY_CACHE:
            self._keys.clear()
        dkey = self._keys[ident] = device_key(tkey, tenant, host, user, generation)
        return dkey

    def drain(self) -> tuple[Counter[tuple[str, str]], Counter[tuple[str, str]]]:
        """Results and warn-mode acceptances since the last drain."""
        results, warned = self.results, self.warned
        self.results, self.warned = Counter(), Counter()
        return results, warned
