"""Attribution, pure: the message key, device signatures, and an event's identity."""

from __future__ import annotations

import argparse
import os
import stat

import orjson
import pytest

from collector.publisher import Publisher
from deskpulse.core.devices import load_secret, load_signer, read_private, write_private
from deskpulse.core.errors import ConfigError, PolicyError
from deskpulse.core.settings import KafkaSettings
from schemas.activity import ActivityEvent
from schemas.auth import (
    CredentialError,
    EnrolmentSecret,
    FleetSigner,
    attach,
    auth_value,
    detach,
    parse_credential,
    parse_secret,
    parse_signer,
    signature,
)
from schemas.device_policy import (
    REVOKED,
    DevicePolicy,
    floor_key,
    mode_key,
    mode_record,
    revocation_record,
)
from schemas.policy import PolicySet
from schemas.validate import parse
from streams.auth import DeviceAuth
from streams.core import Accepted, Duplicate, Rejected, process, seen_key
from streams.seen import PartitionedSeenIndex
from streams.worker import build_parser, device_settings

NOW = 1_795_000_000_000
ROOT = EnrolmentSecret(bytes(range(32)))


def payload(event_id="e1", **kw) -> bytes:
    ev = {"schema": "deskpulse.activity.v1", "event_id": event_id, "tenant": "acme",
          "host": "pc-alice", "user": "alice", "app": "code",
          "start_ms": NOW - 90_000, "end_ms": NOW - 10_000}
    ev.update(kw)
    return orjson.dumps(ev)


def key_of(raw: bytes) -> bytes:
    ev = orjson.loads(raw)
    return f"{ev['tenant']}/{ev['user']}".encode()


class Worker:
    """The core as the batch loop calls it: one partition, offsets counting up."""

    def __init__(self, mode: str | None = None, root: bytes | None = ROOT.secret) -> None:
        self.seen = PartitionedSeenIndex()
        self.policies = PolicySet()
        self.auth = None if mode is None else DeviceAuth(root, mode)
        self.offset = 0

    def send(self, raw: bytes, key: bytes | None = ..., partition: int = 0):
        self.offset += 1
        return process(raw, key=key_of(raw) if key is ... else key, now_ms=NOW, seen=self.seen,
                       partition=partition, offset=self.offset, policies=self.policies,
                       auth=self.auth)


def signed(signer, raw: bytes) -> bytes:
    """``raw`` as the publisher sends it with ``signer``: its signature appended last."""
    ev = orjson.loads(raw)
    return attach(raw, signer.sign(ev["tenant"], ev["host"], ev["user"], key_of(raw), raw))


def forge(dkey: bytes, raw: bytes, bound: bool = False) -> bytes:
    """``raw`` signed with the device key ``dkey``, whoever that key belongs to."""
    return attach(raw, auth_value(1, bound, signature(dkey, key_of(raw), raw)))


def reason(outcome) -> str:
    assert isinstance(outcome, Rejected), outcome
    return outcome.deadletter["reason"]


# -- (a) the message key ----------------------------------------------------------------------

def test_an_event_keyed_for_another_person_or_tenant_is_dead_lettered():
    w = Worker()
    forged = payload(tenant="acme", user="alice")
    out = w.send(forged, key=b"default/mallory")
    assert reason(out) == "key_mismatch" and out.deadletter["field"] == "key"
    assert "default/mallory" in out.deadletter["detail"]
    assert reason(w.send(payload(user="alice"), key=b"acme/bob")) == "key_mismatch"
    assert reason(w.send(payload(tenant="acme"), key=b"other/alice")) == "key_mismatch"
    assert len(w.seen) == 0, "a refused message leaves no dedup state"
    # the victim's own event with the same event_id is then accepted, not a duplicate
    assert isinstance(w.send(payload(), key=b"acme/alice"), Accepted)


def test_a_message_without_a_key_is_dead_lettered():
    out = Worker().send(payload(), key=None)
    assert reason(out) == "key_mismatch" and "no key" in out.deadletter["detail"]


def test_validation_reasons_come_before_the_key_check():
    assert reason(Worker().send(payload(end_ms=NOW - 100_000), key=b"x/y")) == \
        "end_before_start"


# -- (c) an event's identity ---------------------------------------------------------------------

def test_an_event_id_reused_by_another_person_or_computer_is_another_event():
    w = Worker()
    assert isinstance(w.send(payload("shared")), Accepted)
    assert isinstance(w.send(payload("shared", user="mallory", host="pc-mallory")), Accepted)
    assert isinstance(w.send(payload("shared", host="pc-2")), Accepted), "alice's 2nd computer"
    assert isinstance(w.send(payload("shared", app="other")), Duplicate), "the same event again"
    assert seen_key("acme", "alice", "pc-alice", "shared") != \
        seen_key("acme", "mallory", "pc-alice", "shared")


# -- (b) device signatures -------------------------------------------------------------------------

def test_a_signed_event_of_its_own_computer_is_accepted_and_stays_valid_v1():
    w = Worker("enforce")
    cred = ROOT.enrol("acme", "pc-alice")
    wire = signed(cred, payload())
    assert orjson.loads(wire)["auth"].startswith("v1 1 h ")
    assert parse(wire, NOW) == parse(payload(), NOW), "a v1 reader ignores the member"
    out = w.send(wire)
    assert isinstance(out, Accepted) and "auth" not in repr(out.spans)
    assert w.auth.drain()[0] == {("enforce", "verified"): 1}


def test_unsigned_forged_and_tampered_events_are_refused_in_enforce():
    w = Worker("enforce")
    mallory = ROOT.enrol("acme", "pc-mallory")
    alice_raw = payload()
    assert reason(w.send(alice_raw)) == "unsigned"
    # mallory's collector refuses to sign an event that says it is alice on alice's computer
    with pytest.raises(CredentialError, match="pc-mallory"):
        mallory.sign("acme", "pc-alice", "alice", b"acme/alice", alice_raw)
    # ... so she signs alice's event with her own key
    assert reason(w.send(forge(mallory.key, alice_raw))) == "bad_signature"
    # a real signature of alice's computer, the event changed afterwards
    genuine = signed(ROOT.enrol("acme", "pc-alice"), alice_raw)
    assert reason(w.send(genuine.replace(b'"code"', b'"game"'))) == "bad_signature"
    # ... or moved into another event of hers
    member = orjson.loads(genuine)["auth"].encode()
    assert reason(w.send(attach(payload("e2"), member))) == "bad_signature"
    # another tenant's key for a computer of the same name
    other = ROOT.enrol("other", "pc-alice")
    assert reason(w.send(forge(other.key, payload("e9")))) == "bad_signature"
    for garbage in (b"", b"v1", b"v2 1 h " + b"0" * 64, b"v1 x h 00", b"v1 1 z 00",
                    b"v1 99999999 h 00", b"v1 1 h \\u0030"):
        out = w.send(attach(payload("g"), garbage))
        assert reason(out) == "bad_signature", garbage
    # the member anywhere but last, or not a string
    first = b'{"auth":"' + member + b'",' + alice_raw[1:]
    assert reason(w.send(first)) == "bad_signature"
    assert "last member" in w.send(first).deadletter["detail"]
    assert reason(w.send(alice_raw[:-1] + b',"auth":42}')) == "bad_signature"
    assert len(w.seen) == 0, "nothing refused is remembered as seen"


def test_a_user_bound_credential_signs_only_its_person():
    w = Worker("enforce")
    cred = ROOT.enrol("acme", "pc-shared", user="alice")
    assert isinstance(w.send(signed(cred, payload(host="pc-shared"))), Accepted)
    with pytest.raises(CredentialError, match="alice@pc-shared"):
        cred.sign("acme", "pc-shared", "bob", b"acme/bob", b"{}")
    # alice's key put on bob's event does not verify
    bob = payload("b1", host="pc-shared", user="bob")
    assert reason(w.send(forge(cred.key, bob, bound=True))) == "bad_signature"
    # whereas a host credential covers every person on its computer
    host_cred = ROOT.enrol("acme", "pc-shared")
    assert isinstance(w.send(signed(host_cred, bob)), Accepted)


def test_warn_mode_accepts_and_counts_what_enforce_would_refuse():
    w = Worker("warn")
    assert isinstance(w.send(payload("u1")), Accepted)
    assert isinstance(w.send(attach(payload("u2"), b"v1 1 h " + b"0" * 64)), Accepted)
    results, warned = w.auth.drain()
    assert results == {("warn", "unsigned"): 1, ("warn", "bad_signature"): 1}
    assert warned == {("acme", "unsigned"): 1, ("acme", "bad_signature"): 1}
    assert w.auth.drain() == ({}, {}), "drained"


def test_the_mode_is_per_tenant_from_the_policy_topic():
    w = Worker("warn")
    w.policies.devices.apply(mode_key("acme"), mode_record("acme", "enforce", NOW))
    assert reason(w.send(payload("a"))) == "unsigned"
    assert isinstance(w.send(payload("b", tenant="other")), Accepted), "other: the default"
    w.policies.devices.apply(mode_key("acme"), mode_record("acme", "off", NOW))
    assert isinstance(w.send(payload("c")), Accepted)
    assert w.auth.drain()[0] == {("enforce", "unsigned"): 1, ("warn", "unsigned"): 1}
    w.policies.devices.apply(mode_key("acme"), None)  # a tombstone: back to the default
    assert w.policies.devices.modes == {}
    with pytest.raises(PolicyError):
        mode_record("acme", "lenient", NOW)


def test_revocation_and_rotation_by_generation():
    w = Worker("enforce")
    old, new = ROOT.enrol("acme", "pc-alice", generation=1), \
        ROOT.enrol("acme", "pc-alice", generation=2)
    devices = w.policies.devices
    devices.apply(floor_key("acme", "pc-alice", None),
                  revocation_record("acme", "pc-alice", None, 2, NOW))
    out = w.send(signed(old, payload("r1")))
    assert reason(out) == "revoked_device" and "generation 1" in out.deadletter["detail"]
    assert isinstance(w.send(signed(new, payload("r2"))), Accepted)
    devices.apply(floor_key("acme", "pc-alice", None),
                  revocation_record("acme", "pc-alice", None, None, NOW))  # every generation
    raw3 = signed(new, payload("r3"))
    assert reason(w.send(raw3)) == "revoked_device"
    assert devices.floor("acme", "pc-alice", "bob") == REVOKED, "every person of the computer"
    devices.apply(floor_key("acme", "pc-alice", None), None)  # deskpulse device allow
    assert isinstance(w.send(raw3), Accepted)
    # a person's own credential on a shared computer is revoked alone
    devices.apply(floor_key("acme", "pc-alice", "alice"),
                  revocation_record("acme", "pc-alice", "alice", None, NOW))
    assert devices.floor("acme", "pc-alice", "alice") == REVOKED
    assert devices.floor("acme", "pc-alice", "bob") == 0


def test_a_worker_without_the_secret_cannot_verify():
    w = Worker("enforce", root=None)
    out = w.send(signed(ROOT.enrol("acme", "pc-alice"), payload()))
    assert reason(out) == "bad_signature" and "no deployment secret" in out.deadletter["detail"]


# -- secrets, credentials, files ---------------------------------------------------------------

def test_secrets_and_credentials_round_trip_and_bad_ones_are_refused():
    assert parse_secret(ROOT.to_text()) == ROOT
    tenant = ROOT.for_tenant("acme")
    assert parse_secret(tenant.to_text()) == tenant
    # a tenant's secret enrols the same keys as the deployment secret, for its tenant only
    assert tenant.enrol("acme", "pc-1").key == ROOT.enrol("acme", "pc-1").key
    with pytest.raises(CredentialError, match="tenant 'acme' only"):
        tenant.enrol("other", "pc-1")
    cred = ROOT.enrol("acme", 'pc "quoted" \\ ü', user="ålice", generation=3)
    assert parse_credential(cred.to_text()) == cred
    assert parse_signer(cred.to_text()) == cred
    assert isinstance(parse_signer(ROOT.to_text()), FleetSigner)
    assert cred.key.hex() not in repr(cred) and ROOT.secret.hex() not in repr(ROOT)
    for bad in ("", "deskpulse-root-v1:zz", "deskpulse-root-v1:00", "hello",
                "deskpulse-tenant-v1:no spaces:" + "00" * 32):
        with pytest.raises(CredentialError):
            parse_secret(bad)
    for bad in ("", "tenant = 1", cred.to_text().replace("generation = 3", "generation = 0"),
                cred.to_text().replace(cred.key.hex(), "abcd")):
        with pytest.raises(CredentialError):
            parse_credential(bad)
    for args in (("bad tenant", "h"), ("acme", " "), ("acme", "h", "")):
        with pytest.raises(CredentialError):
            ROOT.enrol(*args)


def test_the_fleet_signer_signs_each_person_with_their_own_key():
    fleet = FleetSigner(ROOT)
    w = Worker("enforce")
    for user in ("ann", "ben"):
        assert isinstance(w.send(signed(fleet, payload(f"f-{user}", user=user,
                                                       host=f"pc-{user}"))), Accepted)


def test_secret_files_are_written_private_and_refused_when_open(tmp_path):
    path = tmp_path / "sub" / "device.cred"
    write_private(path, ROOT.enrol("acme", "pc-1").to_text())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_signer(path) == ROOT.enrol("acme", "pc-1")
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="open to other users"):
        read_private(path, "device credential")
    with pytest.raises(ConfigError, match="exists already"):
        write_private(path, "x", overwrite=False)
    secret = tmp_path / "secret"
    write_private(secret, ROOT.to_text())
    assert load_secret(secret, {}) == ROOT
    assert load_secret(None, {"DESKPULSE_DEVICE_SECRET": ROOT.to_text()}) == ROOT
    assert load_secret(None, {"DESKPULSE_DEVICE_SECRET_FILE": str(secret)}) == ROOT
    assert load_secret(None, {}) is None
    with pytest.raises(CredentialError, match="DESKPULSE_DEVICE_SECRET"):
        load_secret(None, {"DESKPULSE_DEVICE_SECRET": "nope"})


def test_the_worker_needs_the_deployment_secret_to_enforce(tmp_path, monkeypatch):
    monkeypatch.delenv("DESKPULSE_DEVICE_SECRET_FILE", raising=False)
    monkeypatch.delenv("DESKPULSE_DEVICE_SECRET", raising=False)

    def args(*extra: str) -> argparse.Namespace:
        return build_parser().parse_args(["--bootstrap", "b:1", "--data-dir", "d",
                                          "--web-port", "1", *extra])

    assert device_settings(args()) == ("warn", None)
    with pytest.raises(CredentialError, match="needs the deployment secret"):
        device_settings(args("--device-auth", "enforce"))
    secret = tmp_path / "secret"
    write_private(secret, ROOT.to_text())
    assert device_settings(args("--device-secret-file", str(secret))) == ("enforce",
                                                                         ROOT.secret)
    assert device_settings(args("--device-secret-file", str(secret), "--device-auth",
                                "warn")) == ("warn", ROOT.secret)
    write_private(secret, ROOT.for_tenant("acme").to_text())
    with pytest.raises(CredentialError, match="not the secret of one tenant"):
        device_settings(args("--device-secret-file", str(secret)))


def test_the_publisher_signs_with_its_credential_and_refuses_another_identity(tmp_path):
    path = tmp_path / "device.cred"
    write_private(path, ROOT.enrol("acme", "pc-alice").to_text())
    publisher = Publisher(KafkaSettings("127.0.0.1:1", device_credential=path),
                          overrides={"message.timeout.ms": 1000})
    event = ActivityEvent(schema="deskpulse.activity.v1", event_id="p1", tenant="acme",
                          host="pc-bob", user="bob", app="code", start_ms=NOW, end_ms=NOW)
    with pytest.raises(CredentialError, match="pc-alice"):
        publisher.send(event)
    assert publisher.flush(0) == 0, "nothing was queued"


def test_device_policy_records_replace_each_other():
    devices = DevicePolicy()
    key = floor_key("acme", "pc/with/slashes", None)
    devices.apply(key, revocation_record("acme", "pc/with/slashes", None, 3, NOW))
    devices.apply(key, revocation_record("acme", "pc/with/slashes", None, 5, NOW))
    assert devices.floors == {("acme", "pc/with/slashes", ""): 5}
    devices.apply(key, None)
    assert devices.floors == {} and devices.records == {}


def test_enrolment_on_the_command_line(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from deskpulse.cli import cli
    for name in ("DESKPULSE_DEVICE_SECRET_FILE", "DESKPULSE_DEVICE_SECRET", "DESKPULSE_CONFIG",
                 "DESKPULSE_TENANT"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    common = ["--data-dir", str(tmp_path / "nostack")]
    secret = tmp_path / "deployment.secret"
    done = runner.invoke(cli, ["device", "secret", "--out", str(secret)])
    assert done.exit_code == 0 and stat.S_IMODE(secret.stat().st_mode) == 0o600
    again = runner.invoke(cli, ["device", "secret", "--out", str(secret)])
    assert again.exit_code == 2 and "exists already" in again.stderr, "never overwritten"

    out = tmp_path / "pc-17.cred"
    done = runner.invoke(cli, ["device", "enrol", "--tenant", "acme", "--host", "pc-17",
                               "--user", "alice", "--secret-file", str(secret), "--out",
                               str(out), *common])
    assert done.exit_code == 0, done.stderr
    assert "device_credential" in done.stderr and done.stdout == ""
    cred = load_signer(out)
    assert (cred.tenant, cred.host, cred.user, cred.generation) == ("acme", "pc-17", "alice", 1)
    assert cred == load_secret(secret, {}).enrol("acme", "pc-17", "alice")

    printed = runner.invoke(cli, ["device", "enrol", "--tenant", "acme", "--host", "pc-18",
                                  *common], env={"DESKPULSE_DEVICE_SECRET_FILE": str(secret)})
    assert printed.exit_code == 0 and parse_credential(printed.stdout).host == "pc-18"

    tenant_file = tmp_path / "acme.secret"
    assert runner.invoke(cli, ["device", "tenant-secret", "--tenant", "acme", "--out",
                               str(tenant_file), "--secret-file", str(secret), *common]
                         ).exit_code == 0
    refused = runner.invoke(cli, ["device", "enrol", "--tenant", "other", "--host", "x",
                                  "--secret-file", str(tenant_file), *common])
    assert refused.exit_code == 2
    assert refused.stderr.strip().splitlines() == [
        "CredentialError: this secret enrols devices of tenant 'acme' only, not 'other'"]

    missing = runner.invoke(cli, ["device", "enrol", "--host", "x", *common])
    assert missing.exit_code == 2 and missing.stderr.startswith("ConfigError: no device secret")
    assert "Traceback" not in missing.stderr


def test_a_collector_does_not_start_with_a_credential_of_another_computer(tmp_path):
    from deskpulse.core.devices import check_credential
    path = tmp_path / "device.cred"
    write_private(path, ROOT.enrol("acme", "pc-alice", user="alice").to_text())
    check_credential(path, "acme", "pc-alice", "alice")
    check_credential(None, "acme", "anything", "anyone")
    for tenant, host, user in (("acme", "pc-bob", "alice"), ("acme", "pc-alice", "bob"),
                               ("other", "pc-alice", "alice")):
        with pytest.raises(CredentialError, match="alice@pc-alice in tenant 'acme'"):
            check_credential(path, tenant, host, user)
    write_private(path, ROOT.to_text())  # a fleet secret signs for anyone (simulators)
    check_credential(path, "acme", "pc-bob", "bob")


def test_attach_and_detach_are_exact_inverses():
    raw = payload()
    wire = attach(raw, b"v1 3 u " + b"ab" * 32)
    assert detach(wire, "v1 3 u " + "ab" * 32) == raw
    assert detach(wire, "v1 3 u " + "ab" * 31) is None
    assert detach(raw, "anything") is None
    with pytest.raises(ValueError):
        attach(b"{}", b"v1 1 h 00")


def test_a_signature_over_an_encoded_event_with_escapes_verifies():
    from schemas.codec import encode_event
    cred = ROOT.enrol("acme", "pc-alice", user="alice")
    event = ActivityEvent(schema="deskpulse.activity.v1", event_id="p2", tenant="acme",
                          host="pc-alice", user="alice", app="code", start_ms=NOW - 60_000,
                          end_ms=NOW - 1000, title='a "quoted" \\ title ü')
    value = encode_event(event)
    wire = attach(value, cred.sign("acme", "pc-alice", "alice", event.key, value))
    assert isinstance(Worker("enforce").send(wire, event.key), Accepted)
