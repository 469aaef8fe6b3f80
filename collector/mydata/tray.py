"""The tray indicator: a StatusNotifierItem with a dbusmenu, on the session bus (jeepney).

Where the desktop runs a StatusNotifierWatcher (KDE, GNOME with the AppIndicator
extension, most panels), the collector registers an item that shows whether it records,
is paused, or has events waiting to be sent, with a menu: pause 15 min / 1 h / until
resumed, resume, open my data. Without a session bus or a watcher there is no icon
(checked again every :data:`RETRY_S` seconds, a panel may start later); ``tray = false``
turns it off (kiosks).

One thread owns the D-Bus connection: it answers the host's calls (properties,
``GetLayout``, ``Event``...) and, when the collector's state changes, emits
``NewStatus``/``NewIcon``/``NewToolTip`` and dbusmenu's ``LayoutUpdated``. The model
(icon, tooltip, menu) is :mod:`collector.mydata.traymenu`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from collector.mydata import traymenu, view

logger = logging.getLogger(__name__)

ITEM_PATH = "/StatusNotifierItem"
MENU_PATH = "/MenuBar"
SNI = "org.kde.StatusNotifierItem"
MENU = "com.canonical.dbusmenu"
PROPS = "org.freedesktop.DBus.Properties"
INTROSPECT = "org.freedesktop.DBus.Introspectable"
WATCHER = ("org.kde.StatusNotifierWatcher", "/StatusNotifierWatcher",
           "org.kde.StatusNotifierWatcher")
RETRY_S = 30.0
POLL_S = 1.0

_INTROSPECTION = f"""<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
<node>
 <interface name="{SNI}">
  <property name="Category" type="s" access="read"/><property name="Id" type="s" access="read"/>
  <property name="Title" type="s" access="read"/><property name="Status" type="s" access="read"/>
  <property name="IconName" type="s" access="read"/>
  <property name="ToolTip" type="(sa(iiay)ss)" access="read"/>
  <property name="ItemIsMenu" type="b" access="read"/><property name="Menu" type="o" access="read"/>
  <method name="Activate"><arg type="i" direction="in"/><arg type="i" direction="in"/></method>
  <method name="SecondaryActivate"><arg type="i" direction="in"/>
   <arg type="i" direction="in"/></method>
  <method name="ContextMenu"><arg type="i" direction="in"/><arg type="i" direction="in"/></method>
  <method name="Scroll"><arg type="i" direction="in"/><arg type="s" direction="in"/></method>
  <signal name="NewStatus"><arg type="s"/></signal><signal name="NewIcon"/>
  <signal name="NewToolTip"/><signal name="NewTitle"/>
 </interface>
 <interface name="{MENU}">
  <property name="Version" type="u" access="read"/><property name="Status" type="s" access="read"/>
  <property name="TextDirection" type="s" access="read"/>
  <method name="GetLayout"><arg type="i" direction="in"/><arg type="i" direction="in"/>
   <arg type="as" direction="in"/><arg type="u" direction="out"/>
   <arg type="(ia{{sv}}av)" direction="out"/></method>
  <method name="GetGroupProperties"><arg type="ai" direction="in"/><arg type="as" direction="in"/>
   <arg type="a(ia{{sv}})" direction="out"/></method>
  <method name="Event"><arg type="i" direction="in"/><arg type="s" direction="in"/>
   <arg type="v" direction="in"/><arg type="u" direction="in"/></method>
  <method name="AboutToShow"><arg type="i" direction="in"/><arg type="b" direction="out"/></method>
  <signal name="LayoutUpdated"><arg type="u"/><arg type="i"/></signal>
 </interface>
</node>"""


class Tray:
    """The indicator of one collector; :meth:`start` returns False when no bus is there."""

    def __init__(self, collector: Any, open_page: Callable[[], None] | None,
                 bus_address: str | None = None) -> None:
        self.collector = collector
        self.open_page = open_page
        self.bus_address = bus_address or os.environ.get("DBUS_SESSION_BUS_ADDRESS", "")
        self.name = f"org.kde.StatusNotifierItem-{os.getpid()}-1"
        self.registered = False
        self.revision = 1
        self._conn: Any = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tray", daemon=True)
        self._state = ""
        self._status: dict[str, Any] = {}
        self._next_register = 0.0

    # -- the model ----------------------------------------------------------------------------
    def refresh(self) -> bool:
        """Read the collector's state; True when what the tray shows changed."""
        status = self.collector.status()
        hours = self.collector.policy.hours
        now = self.collector.now_ms()
        state = view.state(status, None if hours is None else hours.allows(now))
        changed = (state, status.get("paused_until_ms"), status.get("spooled") > 0) != (
            self._state, self._status.get("paused_until_ms"),
            (self._status.get("spooled") or 0) > 0)
        self._state, self._status = state, status
        return changed

    def items(self) -> list[traymenu.Item]:
        return traymenu.menu(self._state, self._status, can_open=self.open_page is not None)

    def _item_props(self) -> dict[str, tuple[str, Any]]:
        icon, tip = traymenu.look(self._state, self._status)
        return {"Category": ("s", "ApplicationStatus"), "Id": ("s", "deskpulse"),
                "Title": ("s", "deskpulse"), "Status": ("s", "Active"),
                "IconName": ("s", icon), "ToolTip": ("(sa(iiay)ss)", (icon, [], "deskpulse",
                                                                       tip)),
                "ItemIsMenu": ("b", False), "Menu": ("o", MENU_PATH), "WindowId": ("i", 0)}

    def _menu_props(self) -> dict[str, tuple[str, Any]]:
        return {"Version": ("u", 3), "Status": ("s", "normal"), "TextDirection": ("s", "ltr"),
                "IconThemePath": ("as", [])}

    def layout(self) -> tuple[int, tuple[int, dict, list]]:
        children = []
        for item in self.items():
            props: dict[str, tuple[str, Any]] = {"visible": ("b", True)}
            if item.separator:
                props["type"] = ("s", "separator")
            else:
                props["label"] = ("s", item.label)
                props["enabled"] = ("b", item.enabled)
            children.append(("(ia{sv}av)", (item.id, props, [])))
        return self.revision, (0, {"children-display": ("s", "submenu")}, children)

    def click(self, item_id: int) -> None:
        """What a menu click does (on the state as it is now, not as last shown)."""
        self.refresh()
        item = next((i for i in self.items() if i.id == item_id), None)
        if item is None or item.action is None or not item.enabled:
            return
        what, seconds = item.action
        if what == "pause":
            self.collector.set_pause(seconds)
        elif what == "resume":
            self.collector.resume()
        elif what == "open" and self.open_page is not None:
            self.open_page()
        if self.refresh() and self._conn is not None:
            self._changed()  # at once: the host redraws before the next poll

    # -- D-Bus ---------------------------------------------------------------------------------
    def start(self) -> bool:
        if not self.bus_address:
            logger.info("no session bus: no tray indicator")
            return False
        from jeepney.bus_messages import message_bus
        from jeepney.io.blocking import open_dbus_connection
        try:
            self._conn = open_dbus_connection(self.bus_address)
            self._conn.send_and_get_reply(message_bus.RequestName(self.name), timeout=5)
        except (OSError, TimeoutError, ValueError) as exc:
            logger.info("the session bus did not answer (%s): no tray indicator", exc)
            return False
        self.refresh()
        self._thread.start()
        return True

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(3)
        if self._conn is not None:
            self._conn.close()

    def _register(self) -> None:
        from jeepney import DBusAddress, new_method_call
        self._next_register = time.monotonic() + RETRY_S
        watcher = DBusAddress(WATCHER[1], bus_name=WATCHER[0], interface=WATCHER[2])
        self._register_serial = self._conn.send(
            new_method_call(watcher, "RegisterStatusNotifierItem", "s", (self.name,)))

    def _run(self) -> None:
        next_poll = 0.0
        while not self._stop.is_set():
            try:
                if not self.registered and time.monotonic() >= self._next_register:
                    self._register()
                # unregistered, nobody shows the icon: sleep until the next try or a call
                # (answered from the state as it is then), no poll of the collector's state
                wait = POLL_S if self.registered else max(0.0, self._next_register -
                                                          time.monotonic())
                try:
                    msg = self._conn.receive(timeout=wait)
                except TimeoutError:
                    msg = None
                if msg is not None:
                    if not self.registered:
                        self.refresh()
                    self._dispatch(msg)
                if self.registered and time.monotonic() >= next_poll:
                    next_poll = time.monotonic() + POLL_S
                    if self.refresh():
                        self._changed()
            except (OSError, ConnectionError) as exc:
                logger.warning("tray: the session bus went away (%s); no indicator", exc)
                return
            except Exception:  # noqa: BLE001 - the indicator must not stop the collector
                logger.exception("tray: unexpected error; serving on")
                self._stop.wait(1)

    def _changed(self) -> None:
        from jeepney import DBusAddress, new_signal
        self.revision += 1
        item = DBusAddress(ITEM_PATH, interface=SNI)
        for signal, sig, body in (("NewStatus", "s", ("Active",)), ("NewIcon", None, ()),
                                  ("NewToolTip", None, ())):
            self._conn.send(new_signal(item, signal, sig, body))
        self._conn.send(new_signal(DBusAddress(MENU_PATH, interface=MENU), "LayoutUpdated",
                                   "ui", (self.revision, 0)))

    def _dispatch(self, msg: Any) -> None:
        from jeepney import HeaderFields, MessageType, new_error, new_method_return
        kind = msg.header.message_type
        fields = msg.header.fields
        if kind in (MessageType.method_return, MessageType.error):
            if fields.get(HeaderFields.reply_serial) == getattr(self, "_register_serial", None):
                self.registered = kind == MessageType.method_return
                if self.registered:
                    logger.info("tray indicator registered with the StatusNotifierWatcher")
                else:
                    logger.info("no StatusNotifierWatcher (%s): no tray icon for now",
                                fields.get(HeaderFields.error_name))
            return
        if kind != MessageType.method_call:
            return
        path, iface = fields.get(HeaderFields.path), fields.get(HeaderFields.interface)
        member = fields.get(HeaderFields.member)
        try:
            answer = self._answer(path, iface, member, msg.body)
        except LookupError as exc:
            self._conn.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", "s",
                                      (str(exc),)))
            return
        sig, body = answer
        self._conn.send(new_method_return(msg, sig, body))

    def _answer(self, path: str, iface: str | None, member: str,
                body: tuple) -> tuple[str | None, tuple]:
        props = {ITEM_PATH: (SNI, self._item_props), MENU_PATH: (MENU, self._menu_props)}
        if path not in props:
            raise LookupError(f"no object {path}")
        if iface == INTROSPECT and member == "Introspect":
            return "s", (_INTROSPECTION,)
        if iface == PROPS:
            name, values = props[path][0], props[path][1]()
            if member == "GetAll":
                return "a{sv}", (values if body[0] in (name, "") else {},)
            if member == "Get" and body[1] in values:
                return "v", (values[body[1]],)
            raise LookupError(f"no property {body!r}")
        if path == ITEM_PATH and member in ("Activate", "SecondaryActivate"):
            if self.open_page is not None:
                self.open_page()
            return None, ()
        if path == ITEM_PATH and member in ("ContextMenu", "Scroll"):
            return None, ()
        if path == MENU_PATH:
            if member == "GetLayout":
                return "u(ia{sv}av)", self.layout()
            if member == "GetGroupProperties":
                rows = [(c[1][0], c[1][1]) for c in self.layout()[1][2]
                        if not body[0] or c[1][0] in body[0]]
                return "a(ia{sv})", (rows,)
            if member == "Event":
                if body[1] == "clicked":
                    self.click(body[0])
                return None, ()
            if member == "AboutToShow":
                return "b", (False,)
        raise LookupError(f"no method {iface}.{member}")
