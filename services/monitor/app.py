"""The monitor's entrypoints: one batch subscriber over the topics it follows, and a timer."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI
from faststream.kafka import KafkaBroker, KafkaMessage

from schemas import (
    AlertRaised,
    IterationAborted,
    LabelProvided,
    ModelDeployed,
    ModelRejected,
    PredictionMade,
    RetrainQueued,
    RetrainRequested,
    YieldReported,
    topic_for,
)
from services.common.kafka import (
    Record,
    batches,
    make_broker,
    publisher,
    raw_batch,
    send_dead_letter,
)
from services.common.service import Lifecycle, Runtime
from services.common.settings import load_settings
from services.common.wiring import service_for
from services.monitor import handlers
from services.monitor.bootstrap import Monitor, bootstrap
from services.monitor.config import MonitorSettings

GROUP = "monitor"
PRODUCES = (YieldReported, RetrainRequested, RetrainQueued, IterationAborted, AlertRaised)
FOLLOWS = (PredictionMade, ModelDeployed, ModelRejected, IterationAborted, LabelProvided)
log = logging.getLogger(__name__)


def subscribe(broker: KafkaBroker, m: Monitor) -> None:
    c = m.config
    records = broker.subscriber(
        *(topic_for(kind) for kind in FOLLOWS),
        group_id=GROUP,
        auto_offset_reset="earliest",
        **batches(c.batch_max, wait_ms=c.batch_wait_ms, record_bytes=c.batch_record_bytes),
    )

    @records(decoder=raw_batch)
    async def on_records(message: KafkaMessage) -> None:
        batch: tuple[Record, ...] = message.raw_message
        await m.runtime.handle("records", lambda: handlers.records_arrived(batch, m))


def create(settings: MonitorSettings | None = None) -> FastAPI:
    settings = settings or load_settings(MonitorSettings)
    runtime = Runtime("monitor", backoff=settings.retry)
    broker = make_broker(settings, client_id="monitor", metrics=runtime.metrics)

    async def dead_letter(record: Record, exc: BaseException) -> None:
        await send_dead_letter(broker, record, exc)
        runtime.metrics.dead_letters.labels(record.topic).inc()

    m = bootstrap(
        settings=settings,
        publish=publisher(broker, PRODUCES),
        dead_letter=dead_letter,
        runtime=runtime,
    )
    subscribe(broker, m)

    async def restore() -> None:
        await runtime.handle("restore", lambda: handlers.restore(m))

    async def resume() -> None:
        await runtime.handle("resume", lambda: handlers.resume(m))

    async def timer() -> None:
        while True:
            try:
                await runtime.handle("tick", lambda: handlers.tick(m))
            except Exception as exc:  # the next tick tries again
                log.warning("timer: %r", exc)
            await asyncio.sleep(m.config.tick_s)

    steps = Lifecycle(before_broker=[restore], after_broker=[resume], loops=[timer])
    return service_for(m, broker, settings, title="yieldloop monitor", lifecycle=steps)
