"""The log file's rotation (deskpulse/core/logs.py RotatingFile) against the standard library's."""

from __future__ import annotations

import logging
import logging.handlers

import pytest

from deskpulse.core.logs import RotatingFile


def write(handler: logging.Handler, count: int) -> None:
    handler.setFormatter(logging.Formatter("%(message)s"))
    for i in range(count):
        handler.handle(logging.makeLogRecord({"msg": "record %d %s", "args": (i, "é" * (i % 7)),
                                              "levelno": logging.INFO}))
    handler.close()


@pytest.mark.parametrize(("max_bytes", "backups"), [(200, 3), (64, 1), (10_000, 2), (0, 3)])
def test_the_same_records_rotate_into_the_same_files_as_the_standard_handler(
        tmp_path, max_bytes, backups):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    ours.mkdir()
    theirs.mkdir()
    write(RotatingFile(ours / "c.log", max_bytes=max_bytes, backups=backups), 120)
    write(logging.handlers.RotatingFileHandler(theirs / "c.log", maxBytes=max_bytes,
                                               backupCount=backups, encoding="utf-8"), 120)
    files = sorted(p.name for p in theirs.iterdir())
    assert sorted(p.name for p in ours.iterdir()) == files
    assert len(files) == (1 if max_bytes in (0, 10_000) else 1 + backups)
    for name in files:
        assert (ours / name).read_bytes() == (theirs / name).read_bytes(), name


def test_an_existing_file_is_appended_to_and_counted(tmp_path):
    path = tmp_path / "c.log"
    path.write_text("x" * 150 + "\n")
    write(RotatingFile(path, max_bytes=200, backups=2), 10)
    assert (tmp_path / "c.log.1").read_text().startswith("x" * 150)
