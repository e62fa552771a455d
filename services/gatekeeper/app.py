"""The gatekeeper's entrypoints: Kafka subscribers, thin."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.subscriber.usecase import LogicSubscriber

from schemas import (
    DEAD_LETTER,
    AlertRaised,
    IterationAborted,
    ModelApproved,
    ModelCandidate,
    ModelRejected,
    topic_for,
)
from services.common.kafka import Record, assigned, make_broker, publisher
from services.common.service import Lifecycle, Runtime
from services.common.settings import load_settings
from services.common.wiring import service_for
from services.gatekeeper import handlers
from services.gatekeeper.bootstrap import Gatekeeper, bootstrap
from services.gatekeeper.config import GatekeeperSettings
from services.gatekeeper.notices import NOTIFY_ORIGIN, Notice

GROUP = "gatekeeper"
PRODUCES = (ModelApproved, ModelRejected, AlertRaised)
LONG_JOB_MS = 3_600_000  # evaluation runs in a thread; the consumer must not be thought dead


def subscribe(broker: KafkaBroker, g: Gatekeeper) -> list[LogicSubscriber[Any]]:
    """Returns the subscribers that start at the end of their topics: the service is ready only
    once they listen, so nothing published after that is missed."""

    @broker.subscriber(
        topic_for(ModelCandidate),
        group_id=GROUP,
        auto_offset_reset="earliest",
        max_poll_interval_ms=LONG_JOB_MS,
    )
    async def on_model_candidate(event: ModelCandidate) -> None:
        await g.runtime.handle("model_candidate", lambda: handlers.model_candidate(event, g))

    @broker.subscriber(
        topic_for(AlertRaised),
        group_id=GROUP,
        auto_offset_reset="earliest",
    )
    async def on_alert_raised(event: AlertRaised) -> None:
        await g.runtime.handle("alert_raised", lambda: handlers.alert_raised(event, g))

    # Notices are about now: a group that never read these topics starts at their end rather
    # than telling people of everything that ever went wrong (the audit has the history).
    aborts = broker.subscriber(
        topic_for(IterationAborted), group_id=GROUP, auto_offset_reset="latest"
    )
    dead_letters = broker.subscriber(DEAD_LETTER, group_id=GROUP, auto_offset_reset="latest")

    @aborts
    async def on_iteration_aborted(event: IterationAborted) -> None:
        await g.runtime.handle("iteration_aborted", lambda: handlers.iteration_aborted(event, g))

    @dead_letters
    async def on_dead_letter(message: KafkaMessage) -> None:
        record: Record = message.raw_message
        await g.runtime.handle("dead_lettered", lambda: handlers.dead_lettered(record, g))

    return [aborts, dead_letters]


def create(settings: GatekeeperSettings | None = None) -> FastAPI:
    settings = settings or load_settings(GatekeeperSettings)
    runtime = Runtime("gatekeeper", backoff=settings.retry)
    broker = make_broker(settings, client_id="gatekeeper", metrics=runtime.metrics)

    async def park(notice: Notice, notifier: str, exc: BaseException) -> None:
        await broker.publish(
            json.dumps(notice.payload()).encode(),
            DEAD_LETTER,
            key=(notice.iteration_id or "").encode(),
            headers={
                "event_type": "Notice",
                "correlation_id": notice.iteration_id or "",
                "x-error": repr(exc)[:1000],
                "x-origin": f"{NOTIFY_ORIGIN}{notifier}/{notice.key}",
            },
        )
        runtime.metrics.dead_letters.labels(f"{NOTIFY_ORIGIN}{notifier}").inc()

    g = bootstrap(
        settings=settings, publish=publisher(broker, PRODUCES), runtime=runtime, park=park
    )
    from_now = subscribe(broker, g)

    async def listening() -> None:
        for subscriber in from_now:
            await assigned(subscriber)

    steps = Lifecycle(after_broker=[listening])
    return service_for(g, broker, settings, title="yieldloop gatekeeper", lifecycle=steps)
