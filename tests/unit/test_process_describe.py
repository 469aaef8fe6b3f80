"""Process name and executable from /proc (collector/probes/process.py), checked against psutil."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from collector.probes import process
from collector.probes.process import describe_linux, describe_process, name_from, parse_stat

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def psutil_describe(pid: int) -> tuple[str, str] | None:
    try:
        proc = psutil.Process(pid)
        name = proc.name()
        try:
            exe = proc.exe()
        except (psutil.AccessDenied, psutil.ZombieProcess, OSError):
            exe = ""
        return name, exe
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


@linux
def test_every_process_here_gets_what_psutil_says():
    compared = 0
    for pid in psutil.pids():
        try:
            before = psutil.Process(pid).create_time()
        except psutil.NoSuchProcess:
            continue
        expected, got = psutil_describe(pid), describe_linux(pid)
        try:
            if psutil.Process(pid).create_time() != before:
                continue  # the pid was reused meanwhile
        except psutil.NoSuchProcess:
            continue
        if expected is not None:
            assert got == expected, pid
            compared += 1
    assert compared >= 3


@linux
def test_a_long_program_name_comes_from_argv0_as_psutil_has_it(tmp_path):
    long = tmp_path / "deskpulse-a-rather-long-program-name"
    long.symlink_to(sys.executable)
    child = subprocess.Popen([str(long), "-c", "import time; time.sleep(30)"])
    try:
        for _ in range(200):  # until the child has exec'd (bounded)
            if psutil.Process(child.pid).cmdline()[:1] == [str(long)]:
                break
            time.sleep(0.05)
        name, exe = describe_process(child.pid)
        assert name == "deskpulse-a-rather-long-program-name" == psutil_describe(child.pid)[0]
        assert exe == os.path.realpath(sys.executable)
    finally:
        child.kill()
        child.wait(10)


def fake_proc(root, pid: int, comm: str, start: int, argv0: str, exe: str) -> None:
    d = root / str(pid)
    d.mkdir(exist_ok=True)
    (d / "stat").write_bytes(f"{pid} ({comm}) S 1 ".encode() + b"0 " * 17 + f"{start} 5 6"
                             .encode())
    (d / "cmdline").write_bytes(argv0.encode() + b"\0--flag\0")
    if (d / "exe").is_symlink():
        (d / "exe").unlink()
    (d / "exe").symlink_to(exe)


def test_a_reused_pid_is_described_anew(tmp_path):
    process._describe_linux.cache_clear()
    fake_proc(tmp_path, 42, "editor", 1000, "/usr/bin/editor", "/usr/bin/editor")
    assert describe_linux(42, str(tmp_path)) == ("editor", "/usr/bin/editor")
    fake_proc(tmp_path, 42, "mail", 2000, "/usr/bin/mail", "/usr/bin/mail")
    assert describe_linux(42, str(tmp_path)) == ("mail", "/usr/bin/mail")
    assert describe_linux(43, str(tmp_path)) == ("", "")  # gone


def test_the_name_and_start_time_survive_odd_command_names():
    line = b"7 (my (odd) prog) S 1 " + b"0 " * 17 + b"12345 9 9\n"
    assert parse_stat(line) == ("my (odd) prog", "12345")
    with pytest.raises(ValueError):
        parse_stat(b"garbage")
    assert name_from("short", b"/opt/other\0") == "short"
    assert name_from("deskpulse-coll", b"") == "deskpulse-coll"  # 14 characters: whole
    assert name_from("deskpulse-colle", b"/opt/deskpulse-collector\0x\0") == "deskpulse-collector"
    assert name_from("deskpulse-colle", b"/opt/something-else\0") == "deskpulse-colle"


def test_a_deleted_executable_loses_the_kernels_suffix(tmp_path):
    process._describe_linux.cache_clear()
    fake_proc(tmp_path, 9, "old", 1, "/opt/old", "/opt/gone/old (deleted)")
    assert describe_linux(9, str(tmp_path)) == ("old", "/opt/gone/old")
