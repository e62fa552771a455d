"""The gatekeeper's entrypoints: Kafka subscribers, thin."""

from __future__ import annotations

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from schemas import AlertRaised, ModelApproved, ModelCandidate, ModelRejected, topic_for
from services.common.kafka import make_broker, publisher
from services.common.service import Runtime
from services.common.settings import load_settings
from services.common.wiring import service_for
from services.gatekeeper import handlers
from services.gatekeeper.bootstrap import Gatekeeper, bootstrap
from services.gatekeeper.config import GatekeeperSettings

GROUP = "gatekeeper"
PRODUCES = (ModelApproved, ModelRejected, AlertRaised)
LONG_JOB_MS = 3_600_000  # evaluation runs in a thread; the consumer must not be thought dead


def subscribe(broker: KafkaBroker, g: Gatekeeper) -> None:
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


def create(settings: GatekeeperSettings | None = None) -> FastAPI:
    settings = settings or load_settings(GatekeeperSettings)
    runtime = Runtime("gatekeeper", backoff=settings.retry)
    broker = make_broker(settings, client_id="gatekeeper", metrics=runtime.metrics)
    g = bootstrap(settings=settings, publish=publisher(broker, PRODUCES), runtime=runtime)
    subscribe(broker, g)
    return service_for(g, broker, settings, title="yieldloop gatekeeper")
