"""Device credentials: which computer may write activity for whom. Pure (``hashlib``/``hmac``).

Every collector signs what it sends with a key of its own, and the stream worker
checks that signature against the event's own tenant, host (and user, for a
credential bound to one person) before anything of the event is stored. The keys
are derived, so workers need no registry of devices:

* the **deployment secret** (``root``, 32 random bytes) is held by the stream
  workers and by whoever enrols devices;
* a **tenant secret** is ``HMAC(root, "deskpulse-tenant-v1" 0 tenant)``: it can
  enrol the devices of that tenant only (hand it to a tenant's administrator);
* a **device key** is ``HMAC(tenant secret, JSON ["deskpulse-device-v1", tenant,
  host, user or null, generation])``: what ``deskpulse device enrol`` writes into
  the collector's credential file. ``user`` is null for a credential that covers
  every person on that computer, and the person's login for one that covers only
  them. ``generation`` (1, 2, ...) rotates a key: a worker refuses generations
  below a floor that ``deskpulse device revoke`` publishes.

On the wire the event stays a valid v1 object: the signature is its last member,
``"auth": "v1 <generation> <h|u> <hex HMAC-SHA256>"`` (``h``: a host credential,
``u``: bound to the user), which v1 readers ignore like any unknown member. The
HMAC is over the message key and the object exactly as encoded *before* the member
was appended (:func:`signed_bytes`, :func:`attach`), so the worker recovers those
bytes by cutting the member off (:func:`detach`). It derives the key from the
payload's tenant, host and user, so a signature made with another computer's (or
another person's, or an older generation's) key does not verify.

Why a member and not a Kafka header: reading a message's headers costs 1.4-2.1 us
in confluent-kafka (``Message.headers()``, against 0.1 us for ``value()``), more
than the HMAC itself and, alone, a tenth of the stream worker's time per event
(BENCHMARKS.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import struct
import tomllib
from dataclasses import dataclass, field
from typing import Protocol

import orjson

from deskpulse.core.errors import ConfigError

#: the member of an activity event that carries its signature (always the last one)
MEMBER = "auth"
_MEMBER_PREFIX = b',"auth":"'
SCHEME = b"v1"
ROOT_PREFIX = "deskpulse-root-v1:"
TENANT_PREFIX = "deskpulse-tenant-v1:"
_TENANT = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_DIGEST = "sha256"


class CredentialError(ConfigError):
    """A credential or secret that cannot be used as given."""


def new_root_secret() -> bytes:
    return secrets.token_bytes(32)


def tenant_secret(root: bytes, tenant: str) -> bytes:
    return hmac.digest(root, b"deskpulse-tenant-v1\x00" + tenant.encode(), _DIGEST)


def device_key(tenant_key: bytes, tenant: str, host: str, user: str | None,
               generation: int) -> bytes:
    info = orjson.dumps(["deskpulse-device-v1", tenant, host, user, generation])
    return hmac.digest(tenant_key, info, _DIGEST)


def signed_bytes(key: bytes, value: bytes) -> bytes:
    """What is signed: the message key and value, the key length-prefixed (no ambiguity)."""
    return struct.pack(">I", len(key)) + key + value


def signature(dkey: bytes, key: bytes, value: bytes) -> bytes:
    """The hex HMAC-SHA256 of one message under a device key."""
    return hmac.digest(dkey, signed_bytes(key, value), _DIGEST).hex().encode()


def auth_value(generation: int, bound_to_user: bool, sig: bytes) -> bytes:
    """The value of the ``auth`` member: ``v1 <generation> <h|u> <hex signature>``."""
    return b"v1 %d %s %s" % (generation, b"u" if bound_to_user else b"h", sig)


def attach(value: bytes, auth: bytes) -> bytes:
    """``value`` (a JSON object as encoded) with the ``auth`` member appended last."""
    if not value.endswith(b"}") or value == b"{}":
        raise ValueError("a signature is appended to a non-empty JSON object")
    return value[:-1] + _MEMBER_PREFIX + auth + b'"}'


def detach(raw: bytes, auth: str) -> bytes | None:
    """The bytes that were signed: ``raw`` without its last member ``"auth": auth``, exactly
    as :func:`attach` appended it; None when it is not there like that."""
    suffix = _MEMBER_PREFIX + auth.encode() + b'"}'
    if not raw.endswith(suffix):
        return None
    return raw[:-len(suffix)] + b"}"


def check_tenant(tenant: str) -> str:
    if not isinstance(tenant, str) or not _TENANT.match(tenant):
        raise CredentialError(f"tenant {tenant!r} must be 1-64 characters of A-Za-z0-9._-")
    return tenant


def check_name(what: str, value: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise CredentialError(f"{what} {value!r} must be 1-255 characters, not blank")
    return value


def check_generation(generation: int) -> int:
    if isinstance(generation, bool) or not isinstance(generation, int) or \
            not 1 <= generation <= 1_000_000:
        raise CredentialError(f"generation {generation!r} must be an integer from 1 to 1000000")
    return generation


class Signer(Protocol):
    """Something that can sign the activity messages of some identities."""

    def sign(self, tenant: str, host: str, user: str, key: bytes, value: bytes) -> bytes:
        """The ``auth`` value for one message; :class:`CredentialError` if not covered."""
        ...


# -- secrets that enrol devices --------------------------------------------------------------

@dataclass(frozen=True)
class EnrolmentSecret:
    """The deployment secret (every tenant) or one tenant's secret."""

    secret: bytes = field(repr=False)
    tenant: str | None = None  # None: the deployment secret

    def tenant_key(self, tenant: str) -> bytes:
        check_tenant(tenant)
        if self.tenant is None:
            return tenant_secret(self.secret, tenant)
        if tenant != self.tenant:
            raise CredentialError(f"this secret enrols devices of tenant {self.tenant!r} only, "
                                  f"not {tenant!r}")
        return self.secret

    def to_text(self) -> str:
        if self.tenant is None:
            return f"{ROOT_PREFIX}{self.secret.hex()}\n"
        return f"{TENANT_PREFIX}{self.tenant}:{self.secret.hex()}\n"

    def for_tenant(self, tenant: str) -> EnrolmentSecret:
        return EnrolmentSecret(self.tenant_key(tenant), tenant)

    def enrol(self, tenant: str, host: str, user: str | None = None,
              generation: int = 1) -> DeviceCredential:
        check_name("host", host)
        if user is not None:
            check_name("user", user)
        check_generation(generation)
        return DeviceCredential(tenant=tenant, host=host, user=user, generation=generation,
                                key=device_key(self.tenant_key(tenant), tenant, host, user,
                                               generation))


def parse_secret(text: str) -> EnrolmentSecret:
    """A secret file's content: ``deskpulse-root-v1:<hex>`` or ``deskpulse-tenant-v1:T:<hex>``."""
    line = text.strip()
    try:
        if line.startswith(ROOT_PREFIX):
            secret = bytes.fromhex(line[len(ROOT_PREFIX):])
            tenant = None
        elif line.startswith(TENANT_PREFIX):
            tenant, _, hexed = line[len(TENANT_PREFIX):].rpartition(":")
            check_tenant(tenant)
            secret = bytes.fromhex(hexed)
        else:
            raise ValueError("unknown kind")
    except ValueError:
        raise CredentialError("not a deskpulse secret (expected a line 'deskpulse-root-v1:...' "
                              "or 'deskpulse-tenant-v1:TENANT:...')") from None
    if len(secret) < 16:
        raise CredentialError("the secret is shorter than 16 bytes")
    return EnrolmentSecret(secret, tenant)


# -- the credential of one computer ---------------------------------------------------------------

@dataclass(frozen=True)
class DeviceCredential:
    """What a collector signs with: the key of one computer (and maybe one person)."""

    tenant: str
    host: str
    user: str | None
    generation: int
    key: bytes = field(repr=False)

    def covers(self, tenant: str, host: str, user: str) -> bool:
        return tenant == self.tenant and host == self.host and self.user in (None, user)

    def sign(self, tenant: str, host: str, user: str, key: bytes, value: bytes) -> bytes:
        if not self.covers(tenant, host, user):
            whom = f"{self.user}@{self.host}" if self.user is not None else f"host {self.host}"
            raise CredentialError(
                f"the device credential is for {whom} in tenant {self.tenant!r}, not for "
                f"{user}@{host} in tenant {tenant!r}",
                hint="set tenant/host/user of the collector to the credential's, or enrol "
                     "this computer with 'deskpulse device enrol'")
        return auth_value(self.generation, self.user is not None,
                          signature(self.key, key, value))

    def to_text(self) -> str:
        """The credential file (TOML); keep it private (mode 0600)."""
        lines = ["# deskpulse device credential: it signs this computer's activity.",
                 "# Keep it private (mode 0600); 'deskpulse device revoke' disables it.",
                 f"tenant = {json.dumps(self.tenant)}", f"host = {json.dumps(self.host)}"]
        if self.user is not None:
            lines.append(f"user = {json.dumps(self.user)}")
        lines += [f"generation = {self.generation}", f'key = "{self.key.hex()}"']
        return "\n".join(lines) + "\n"


def parse_credential(text: str) -> DeviceCredential:
    try:
        data = tomllib.loads(text)
        tenant, host, generation = data["tenant"], data["host"], data["generation"]
        user = data.get("user")
        key = bytes.fromhex(data["key"])
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CredentialError(f"not a deskpulse device credential ({type(exc).__name__}: "
                              f"{exc})") from None
    check_tenant(tenant)
    check_name("host", host)
    if user is not None:
        check_name("user", user)
    check_generation(generation)
    if len(key) != 32:
        raise CredentialError("the credential's key is not 32 bytes")
    return DeviceCredential(tenant, host, user, generation, key)


class FleetSigner:
    """Signs for any computer of a tenant from an enrolment secret (the simulated fleet,
    tests, bulk imports): each identity gets its own user-bound device key."""

    def __init__(self, secret: EnrolmentSecret, generation: int = 1) -> None:
        self._secret = secret
        self._generation = check_generation(generation)
        self._keys: dict[tuple[str, str, str], bytes] = {}

    def sign(self, tenant: str, host: str, user: str, key: bytes, value: bytes) -> bytes:
        ident = (tenant, host, user)
        dkey = self._keys.get(ident)
        if dkey is None:
            dkey = self._keys[ident] = device_key(self._secret.tenant_key(tenant), tenant,
                                                  host, user, self._generation)
        return auth_value(self._generation, True, signature(dkey, key, value))


def parse_signer(text: str) -> Signer:
    """A credential file's signer: a device credential, or (simulators) an enrolment secret."""
    stripped = text.strip()
    if stripped.startswith((ROOT_PREFIX, TENANT_PREFIX)):
        return FleetSigner(parse_secret(stripped))
    return parse_credential(text)


def secret_digest(secret: bytes) -> str:
    """A short fingerprint of a secret, safe to log (which secret a worker holds)."""
    return hashlib.sha256(b"deskpulse-fingerprint\x00" + secret).hexdigest()[:12]
