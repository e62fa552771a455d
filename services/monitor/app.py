"""The monitor's entrypoints: Kafka subscribers, thin."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from schemas import (
    IterationAborted,
    ModelDeployed,
    ModelRejected,
    PredictionMade,
    topic_for,
)
from services.common.kafka import make_broker, publisher
from services.common.settings import load_settings
from services.monitor import handlers
from services.monitor.bootstrap import Monitor, bootstrap
from services.monitor.config import MonitorSettings

GROUP = "monitor"


def subscribe(broker: KafkaBroker, m: Monitor) -> None:
    @broker.subscriber(topic_for(PredictionMade), group_id=GROUP, auto_offset_reset="earliest")
    async def on_prediction(event: PredictionMade) -> None:
        await handlers.prediction_made(event, m)

    @broker.subscriber(topic_for(ModelDeployed), group_id=GROUP, auto_offset_reset="earliest")
    async def on_deployed(event: ModelDeployed) -> None:
        await handlers.iteration_ended(event, m)

    @broker.subscriber(topic_for(ModelRejected), group_id=GROUP, auto_offset_reset="earliest")
    async def on_rejected(event: ModelRejected) -> None:
        await handlers.iteration_ended(event, m)

    @broker.subscriber(topic_for(IterationAborted), group_id=GROUP, auto_offset_reset="earliest")
    async def on_aborted(event: IterationAborted) -> None:
        await handlers.iteration_ended(event, m)


def create(settings: MonitorSettings | None = None) -> KafkaBroker:
    settings = settings or load_settings(MonitorSettings)
    broker = make_broker(settings, client_id="monitor")
    subscribe(broker, bootstrap(settings=settings, publish=publisher(broker)))
    return broker
