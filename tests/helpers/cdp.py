"""Headless Chromium driven over the DevTools protocol: load a page, run script, click.

``dump_dom`` (tests/helpers/browser.py) sees a page once; a page with controls needs a
browser that stays open. This starts Chromium with ``--remote-debugging-port`` and talks
to its page target over the DevTools websocket (aiohttp's client), one call at a time.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

from deskpulse.core.procs import Child, free_port
from tests.helpers.browser import chromium


class Browser:
    def __init__(self, profile: Path, log: Path) -> None:
        self.port = free_port()
        self.child = Child("chromium", [
            chromium(), "--headless=new", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
            f"--user-data-dir={profile}", f"--remote-debugging-port={self.port}",
            "--remote-allow-origins=*", "about:blank"], log)
        self._loop = asyncio.new_event_loop()
        self._ids = itertools.count(1)
        self._ws: Any = None
        self._session: Any = None
        target = self._page_target(timeout=30)
        self._loop.run_until_complete(self._connect(target))

    def _page_target(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list",
                                            timeout=2) as answer:
                    pages = [t for t in json.load(answer) if t.get("type") == "page"]
                if pages:
                    return pages[0]["webSocketDebuggerUrl"]
            except OSError:
                pass
            if not self.child.alive():
                raise RuntimeError(f"chromium exited: {self.child.log_tail()}")
            time.sleep(0.2)
        raise RuntimeError("chromium offered no page target in time")

    async def _connect(self, url: str) -> None:
        self._session = aiohttp.ClientSession()
        self._ws = await self._session.ws_connect(url, max_msg_size=64 << 20)

    async def _call(self, method: str, params: dict[str, Any], timeout: float) -> Any:
        msg_id = next(self._ids)
        await self._ws.send_str(json.dumps({"id": msg_id, "method": method, "params": params}))
        async with asyncio.timeout(timeout):
            while True:
                msg = json.loads((await self._ws.receive()).data)
                if msg.get("id") == msg_id:
                    if "error" in msg:
                        raise RuntimeError(f"{method}: {msg['error']}")
                    return msg.get("result")

    def call(self, method: str, timeout: float = 30, **params: Any) -> Any:
        return self._loop.run_until_complete(self._call(method, params, timeout))

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of ``expression`` in the page (awaited when it is a promise)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait(self, expression: str, timeout: float = 30) -> Any:
        """Poll ``expression`` until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.evaluate(expression)
            except RuntimeError:
                last = None  # navigating: the context is being replaced
            if last:
                return last
            time.sleep(0.2)
        raise AssertionError(f"page never satisfied {expression!r} (last: {last!r})")

    def close(self) -> None:
        async def shut() -> None:
            if self._ws is not None:
                await self._ws.close()
            if self._session is not None:
                await self._session.close()
        self._loop.run_until_complete(shut())
        self._loop.close()
        self.child.stop(timeout=10)
