"""The collector's private files: spool, log and their directories are the user's only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from collector.main import private_log
from collector.perms import private_dir, private_file
from collector.spool import Spool
from deskpulse.core.errors import ConfigError
from schemas.activity import SCHEMA_ID, ActivityEvent


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture()
def loose_umask():
    old = os.umask(0o022)  # what a desktop session usually has
    try:
        yield
    finally:
        os.umask(old)


def event(i: int) -> ActivityEvent:
    return ActivityEvent(schema=SCHEMA_ID, event_id=f"e{i}", tenant="default", user="alice",
                         host="pc", app="code", title="secret-project.txt", start_ms=1000 * i,
                         end_ms=1000 * i + 500)


def test_a_new_spool_and_its_wal_and_shm_are_private(tmp_path, loose_umask):
    spool = Spool(tmp_path / "collector" / "spool.db")
    spool.put([event(i) for i in range(3)])
    files = sorted(p.name for p in (tmp_path / "collector").iterdir())
    assert files == ["spool.db", "spool.db-shm", "spool.db-wal"]
    assert {p: mode(tmp_path / "collector" / p) for p in files} == dict.fromkeys(files, 0o600)
    assert mode(tmp_path / "collector") == 0o700
    spool.close()


def test_an_old_spool_left_readable_is_made_private(tmp_path, loose_umask):
    folder = tmp_path / "collector"
    old = Spool(folder / "spool.db")
    old.put([event(1)])
    old.close()
    for p in [folder, *folder.iterdir()]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)  # what earlier versions left behind
    (folder / "spool.db-wal").write_bytes(b"")
    os.chmod(folder / "spool.db-wal", 0o644)
    spool = Spool(folder / "spool.db")
    spool.put([event(2)])
    assert len(spool) == 2
    assert mode(folder) == 0o700
    assert {p.name: mode(p) for p in folder.iterdir()} == {
        "spool.db": 0o600, "spool.db-wal": 0o600, "spool.db-shm": 0o600}
    spool.close()


def test_the_log_and_its_rotations_are_made_private(tmp_path, loose_umask):
    logs = tmp_path / "log"
    logs.mkdir()
    for name in ("collector.log", "collector.log.1", "collector.log.3"):
        (logs / name).write_text("2026-01-01 INFO started\n")
        os.chmod(logs / name, 0o644)
    (logs / "notes.txt").write_text("not the collector's")
    os.chmod(logs / "notes.txt", 0o644)
    private_log(logs / "collector.log")
    assert mode(logs) == 0o700
    assert {p.name: mode(p) for p in logs.iterdir()} == {
        "collector.log": 0o600, "collector.log.1": 0o600, "collector.log.3": 0o600,
        "notes.txt": 0o644}
    fresh = tmp_path / "new" / "state" / "collector.log"
    private_log(fresh)
    assert fresh.exists() and mode(fresh) == 0o600 and mode(fresh.parent) == 0o700


def test_a_symlink_or_a_stranger_is_refused_not_followed(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("someone's file")
    os.chmod(target, 0o644)
    (tmp_path / "spool.db").symlink_to(target)
    with pytest.raises(ConfigError, match="should be a regular file"):
        Spool(tmp_path / "spool.db")
    assert target.read_text() == "someone's file" and mode(target) == 0o644
    (tmp_path / "dangling.log").symlink_to(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="should be a regular file"):
        private_file(tmp_path / "dangling.log")
    assert not (tmp_path / "nowhere").exists()
    (tmp_path / "afile").write_text("")
    with pytest.raises(ConfigError, match="should be a directory"):
        private_dir(tmp_path / "afile")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="needs root to make a directory of another user")
def test_a_directory_of_another_user_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    os.chown(shared, 65534, 65534)
    with pytest.raises(ConfigError, match="belongs to another user"):
        Spool(shared / "spool.db")
    assert list(shared.iterdir()) == []
