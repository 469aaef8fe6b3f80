"""Health of a running embedded stack, part by part (``deskpulse status``)."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from deskpulse.core.errors import BrokerUnavailable
from deskpulse.core.procs import http_json
from deskpulse.core.stackfile import StackInfo
from deskpulse.ops.broker import wait_broker


@dataclass(frozen=True)
class PartHealth:
    name: str
    ready: bool
    detail: str


def stack_health(info: StackInfo) -> list[PartHealth]:
    """Health of each part of a running stack."""
    parts = []
    try:
        wait_broker(info.broker, None, timeout=3)
        parts.append(PartHealth("broker", True, info.broker))
    except BrokerUnavailable as exc:
        parts.append(PartHealth("broker", False, str(exc)))
    for name, url in (("worker", info.worker_url), ("sink", info.store_url)):
        try:
            status, body = http_json(f"{url}/health", timeout=3)
            ready = status == 200
            detail = ", ".join(f"{k}={v}" for k, v in body.items()) if isinstance(body, dict) \
                else str(body)
        except (OSError, orjson.JSONDecodeError) as exc:
            ready, detail = False, f"unreachable at {url}: {exc}"
        parts.append(PartHealth(name, ready, detail))
    return parts
