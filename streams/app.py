"""The Faust application hosting one stream worker.

Faust is wrapped here, at the edge: the app is built by a factory (no
autodiscovery, no subclassing of the app). It runs the worker's lifecycle
(signals, start and stop, logging) and its web endpoints, ``/health`` and
``/metrics``; the activity topic itself is read and written by
:class:`streams.ingest.ActivityIngest`, a Faust-managed service whose batch loop
calls the pure core (see that module for why it is not a Faust agent).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import faust
from faust.app.base import BootStrategy
from mode import Service

from deskpulse.adapters.policy_topics import PolicyFollower
from deskpulse.core.metrics import CONTENT_TYPE as PROMETHEUS_CONTENT_TYPE
from deskpulse.core.settings import KafkaSettings
from schemas.auth import secret_digest
from streams.auth import DeviceAuth
from streams.ingest import ActivityIngest, IngestSettings, require_alive
from streams.metrics import StreamMetrics

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerSettings:
    bootstrap: str
    data_dir: Path
    app_id: str = "deskpulse-streams"
    web_port: int = 6066
    web_host: str = "127.0.0.1"
    batch_size: int = 5000
    #: librdkafka settings for TLS/SASL (``DESKPULSE_KAFKA_*``), e.g. security.protocol
    kafka_extra: Mapping[str, str] = field(default_factory=dict)
    #: device authentication of tenants without a mode of their own: enforce, warn or off
    device_auth: str = "warn"
    #: the deployment secret the device keys derive from (never shown)
    device_secret: bytes | None = field(default=None, repr=False)


class _WebOnly(BootStrategy):
    """Faust's own Kafka clients stay off: the ingest service owns the topics."""

    enable_kafka = False


def create_app(settings: WorkerSettings) -> faust.App:
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.bootstrap}",
        store="memory://",
        autodiscover=False,
        datadir=str(settings.data_dir),
        web_enabled=True,
        web_port=settings.web_port,
        web_host=settings.web_host,
        web_bind=settings.web_host,
    )
    app.boot_strategy = _WebOnly(app)
    kafka = KafkaSettings(bootstrap=settings.bootstrap,
                          extra=MappingProxyType(dict(settings.kafka_extra)))
    metrics = StreamMetrics()
    follower = PolicyFollower(kafka)
    auth = DeviceAuth(settings.device_secret, settings.device_auth)
    if settings.device_secret is None:
        logger.warning("device authentication: no deployment secret; tenants in mode %s "
                       "(the default) accept events whoever sent them",
                       settings.device_auth)
    else:
        logger.info("device authentication: default mode %s, deployment secret %s",
                    settings.device_auth, secret_digest(settings.device_secret))
    ingest = ActivityIngest(kafka, follower, metrics,
                            IngestSettings(group_id=settings.app_id,
                                           batch_size=settings.batch_size), auth=auth)

    @app.service
    class Ingest(Service):
        async def on_start(self) -> None:
            ingest.start()

        @Service.task
        async def _watch(self) -> None:
            while not self.should_stop:
                if not ingest.alive():
                    require_alive(ingest)
                    return
                await self.sleep(0.5)

        async def on_stop(self) -> None:
            await asyncio.to_thread(ingest.stop)
            follower.stop()

    def ready() -> bool:
        return ingest.joined and follower.loaded.is_set()

    @app.page("/health")
    async def health(web: object, request: object) -> object:
        body = {"ready": ready(), "policies_loaded": follower.loaded.is_set(),
                "partitions": sorted(ingest.assigned),
                "dedup_keys": ingest.dedup_keys,
                "dnt_entries": len(follower.policies.dnt),
                "schedules": len(follower.policies.schedules),
                "category_rules": len(follower.policies.categories.rules),
                "device_auth": settings.device_auth,
                "device_auth_tenants": dict(follower.policies.devices.modes),
                "policy_records": follower.records, **metrics.totals}
        return app.web.json(body, status=200 if ready() else 503)

    @app.page("/live")
    async def live(web: object, request: object) -> object:
        """Liveness: the process answers and its ingest loop has not died."""
        alive = ingest.error is None
        return app.web.json({"live": alive}, status=200 if alive else 503)

    @app.page("/metrics")
    async def prometheus(web: object, request: object) -> object:
        return app.web.bytes(metrics.prometheus(),
                             content_type=PROMETHEUS_CONTENT_TYPE)

    return app
