"""The curator's entrypoints: one Kafka subscriber, thin."""

from __future__ import annotations

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from schemas import (
    AlertRaised,
    DatasetCurated,
    IterationAborted,
    RetrainRequested,
    ReviewRequested,
    topic_for,
)
from services.common.kafka import make_broker, publisher
from services.common.service import Runtime
from services.common.settings import load_settings
from services.common.wiring import service_for
from services.curator import handlers
from services.curator.bootstrap import Curator, bootstrap
from services.curator.config import CuratorSettings

GROUP = "curator"
PRODUCES = (DatasetCurated, IterationAborted, AlertRaised, ReviewRequested)
LONG_JOB_MS = 3_600_000  # labelling runs in a thread; the consumer must not be thought dead


def subscribe(broker: KafkaBroker, c: Curator) -> None:
    @broker.subscriber(
        topic_for(RetrainRequested),
        group_id=GROUP,
        auto_offset_reset="earliest",
        max_poll_interval_ms=LONG_JOB_MS,
    )
    async def on_retrain_requested(event: RetrainRequested) -> None:
        await c.runtime.handle("retrain_requested", lambda: handlers.retrain_requested(event, c))


def create(settings: CuratorSettings | None = None) -> FastAPI:
    settings = settings or load_settings(CuratorSettings)
    runtime = Runtime("curator", backoff=settings.retry)
    broker = make_broker(settings, client_id="curator", metrics=runtime.metrics)
    c = bootstrap(settings=settings, publish=publisher(broker, PRODUCES), runtime=runtime)
    subscribe(broker, c)
    return service_for(c, broker, settings, title="yieldloop curator")
