"""Device authentication's key cache never changes an answer, and no member crashes the check.

The worker caches each credential's padded key blocks (:meth:`DeviceAuth._derive`) keyed
on what names it; the property test compares a long-lived, warm :class:`DeviceAuth` with
the signature computed from scratch (``schemas.auth``), on events whose person, computer,
message key and credential are drawn from small sets, so that a cache keyed on too little
hands one identity's key to another.
"""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.auth import attach, auth_value, detach, device_key, signature, tenant_secret
from schemas.device_policy import DevicePolicy
from streams.auth import DeviceAuth

ROOT = b"r" * 32
SHARED = DeviceAuth(ROOT, "enforce")  # warm across examples: its cache is what is tested
NO_FLOORS = DevicePolicy()
FLOORS = DevicePolicy(floors={("acme", "pc-1", ""): 2, ("beta", "pc-2", "bob"): 2})

tenants, hosts, users = st.sampled_from(["acme", "beta"]), st.sampled_from(["pc-1", "pc-2"]), \
    st.sampled_from(["alice", "bob"])


def expected(tenant: str, host: str, user: str, key: bytes, raw: bytes, member: str,
             devices: DevicePolicy) -> bool:
    """Does the event verify? From scratch: parse the member, derive the key, HMAC."""
    parts = member.split(" ")
    if len(parts) != 4 or parts[0] != "v1" or parts[2] not in ("h", "u") or \
            not parts[1].isascii() or not parts[1].isdigit() or len(parts[1]) > 7:
        return False
    signed = detach(raw, member)
    if signed is None or int(parts[1]) < devices.floor(tenant, host, user):
        return False
    dkey = device_key(tenant_secret(ROOT, tenant), tenant, host,
                      user if parts[2] == "u" else None, int(parts[1]))
    return signature(dkey, key, signed) == parts[3].encode()


@settings(max_examples=400, deadline=None)
@given(tenant=tenants, host=hosts, user=users, by_tenant=tenants, by_host=hosts,
       by_user=users, bound=st.booleans(), generation=st.sampled_from([1, 2, 3]),
       generation_text=st.sampled_from(["{}", "0{}", "{}x", ""]),
       signed_key=st.sampled_from([b"acme/alice", b"acme/bob", b"beta/alice"]),
       key=st.sampled_from([b"acme/alice", b"acme/bob", b"beta/alice"]),
       tamper=st.sampled_from(["", "flip", "non-ascii", "short"]),
       event_id=st.sampled_from(["e1", "e2"]), floors=st.booleans())
def test_the_cached_check_answers_as_the_signature_computed_from_scratch(
        tenant, host, user, by_tenant, by_host, by_user, bound, generation, generation_text,
        signed_key, key, tamper, event_id, floors):
    value = orjson.dumps({"event_id": event_id, "tenant": tenant, "host": host, "user": user})
    dkey = device_key(tenant_secret(ROOT, by_tenant), by_tenant, by_host,
                      by_user if bound else None, generation)
    sig = signature(dkey, signed_key, value).decode()
    if tamper == "flip":
        sig = sig[:10] + ("0" if sig[10] != "0" else "1") + sig[11:]
    elif tamper == "non-ascii":
        sig = sig[:-1] + "é"
    elif tamper == "short":
        sig = sig[:-1]
    member = auth_value(generation, bound, b"").decode().replace(
        f" {generation} ", f" {generation_text.format(generation)} ") + sig
    raw = attach(value, member.encode())
    devices = FLOORS if floors else NO_FLOORS
    want = expected(tenant, host, user, key, raw, member, devices)
    for auth in (SHARED, DeviceAuth(ROOT, "enforce")):  # warm, and from scratch
        assert (auth.check(devices, tenant, host, user, key, raw, member) is None) == want


@pytest.mark.parametrize("signature_text", ["é" * 64, "0" * 63 + "é", "ａ" * 64])
def test_a_signature_with_non_ascii_characters_is_a_bad_signature_not_a_crash(signature_text):
    member = f"v1 1 u {signature_text}"
    raw = attach(orjson.dumps({"event_id": "e1"}), member.encode())
    problem = DeviceAuth(ROOT, "enforce").check(NO_FLOORS, "acme", "pc-1", "alice",
                                                b"acme/alice", raw, member)
    assert problem is not None and problem.reason == "bad_signature"
    warn = DeviceAuth(ROOT, "warn")
    assert warn.check(NO_FLOORS, "acme", "pc-1", "alice", b"acme/alice", raw, member) is None
    assert warn.drain()[1] == {("acme", "bad_signature"): 1}
