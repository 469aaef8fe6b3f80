"""Small helpers over jeepney (pure-Python D-Bus): connect, call, read a property."""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

from jeepney import DBusAddress, Properties, new_method_call
from jeepney.io.blocking import DBusConnection, open_dbus_connection
from jeepney.wrappers import DBusErrorResponse, unwrap_msg

from collector.probes import ProbeUnavailable

__all__ = ["DBusErrorResponse", "call", "close_listener", "connect", "get_property"]


def connect(env: dict[str, str], bus: str) -> DBusConnection:
    """The session or system bus named by the session's environment (else the default)."""
    variable = "DBUS_SESSION_BUS_ADDRESS" if bus == "SESSION" else "DBUS_SYSTEM_BUS_ADDRESS"
    address = env.get(variable) or bus
    try:
        return open_dbus_connection(address, auth_timeout=3.0)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ProbeUnavailable(f"cannot connect to the D-Bus {bus.lower()} bus: {exc}",
                               hint=f"run the collector inside the desktop session "
                                    f"({variable})") from exc


def call(conn: DBusConnection, name: str, path: str, interface: str, method: str,
         signature: str | None = None, body: tuple = (), timeout: float = 2.0) -> tuple:
    """One method call; raises DBusErrorResponse for an error reply, TimeoutError."""
    msg = new_method_call(DBusAddress(path, bus_name=name, interface=interface), method,
                          signature, body)
    return unwrap_msg(conn.send_and_get_reply(msg, timeout=timeout))


def get_property(conn: DBusConnection, name: str, path: str, interface: str, prop: str,
                 timeout: float = 2.0) -> Any:
    msg = Properties(DBusAddress(path, bus_name=name, interface=interface)).get(prop)
    (variant,) = unwrap_msg(conn.send_and_get_reply(msg, timeout=timeout))
    return variant[1]


def close_listener(conn: DBusConnection, thread: threading.Thread, timeout: float = 2.0) -> None:
    """Stop a thread blocked receiving on ``conn`` and close the connection: shutting the
    socket down wakes the blocked receive (no timed wake-ups while it listens)."""
    with contextlib.suppress(OSError):
        conn.sock.shutdown(socket.SHUT_RDWR)
    if thread.is_alive():
        thread.join(timeout)
    with contextlib.suppress(OSError):
        conn.close()
