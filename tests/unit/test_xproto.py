"""The X11 client's pure parts: display names, Xauthority entries, WM_CLASS (xproto, x11)."""

from __future__ import annotations

import struct

import pytest

from collector.probes.x11 import split_wm_class
from collector.probes.xproto import XDisplayError, find_cookie, parse_display, read_xauthority


def entry(family: int, address: bytes, number: bytes, name: bytes, data: bytes) -> bytes:
    out = struct.pack(">H", family)
    for field in (address, number, name, data):
        out += struct.pack(">H", len(field)) + field
    return out


@pytest.mark.parametrize(("name", "parsed"), [
    (":0", ("", 0, 0)), (":1.2", ("", 1, 2)), ("unix:3", ("", 3, 0)),
    ("unix/:4", ("", 4, 0)), ("host.example:10.0", ("host.example", 10, 0)),
    ("tcp/host:5", ("host", 5, 0)),
])
def test_display_names(name, parsed):
    assert parse_display(name) == parsed


@pytest.mark.parametrize("name", ["", "0", ":", ":x", ":0.y", "host"])
def test_bad_display_names(name):
    with pytest.raises(XDisplayError, match="bad display name"):
        parse_display(name)


def test_the_cookie_for_this_host_and_display_is_found_as_libxau_finds_it():
    cookie = b"MIT-MAGIC-COOKIE-1"
    data = (entry(256, b"otherhost", b"0", cookie, b"other") +
            entry(256, b"myhost", b"1", cookie, b"display1") +
            entry(256, b"myhost", b"0", b"XDM-AUTHORIZATION-1", b"xdm") +
            entry(256, b"myhost", b"0", cookie, b"mine") +
            entry(65535, b"", b"", cookie, b"wild"))
    entries = read_xauthority(data + b"\x01")  # a truncated last entry is dropped
    assert len(entries) == 5
    assert find_cookie(entries, 256, b"myhost", 0) == b"mine"
    assert find_cookie(entries, 256, b"myhost", 1) == b"display1"
    assert find_cookie(entries, 256, b"elsewhere", 7) == b"wild"
    assert find_cookie(entries[:3], 256, b"elsewhere", 7) is None


def test_wm_class_is_instance_and_class():
    assert split_wm_class(b"navigator\0Firefox\0") == ("navigator", "Firefox")
    assert split_wm_class(b"only") is None
