"""The gatekeeper's entrypoints: Kafka subscribers."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from schemas import AlertRaised, ModelCandidate, topic_for
from services.common.kafka import make_broker, publisher
from services.common.settings import load_settings
from services.gatekeeper import handlers
from services.gatekeeper.bootstrap import Gatekeeper, bootstrap
from services.gatekeeper.config import GatekeeperSettings

GROUP = "gatekeeper"
LONG_JOB_MS = 3_600_000  # evaluation runs in a thread; the consumer must not be thought dead


def subscribe(broker: KafkaBroker, g: Gatekeeper) -> None:
    @broker.subscriber(
        topic_for(ModelCandidate),
        group_id=GROUP,
        auto_offset_reset="earliest",
        max_poll_interval_ms=LONG_JOB_MS,
    )
    async def on_candidate(event: ModelCandidate) -> None:
        await handlers.model_candidate(event, g)

    @broker.subscriber(topic_for(AlertRaised), group_id=GROUP, auto_offset_reset="earliest")
    async def on_alert(event: AlertRaised) -> None:
        await handlers.alert_raised(event, g)


def create(settings: GatekeeperSettings | None = None) -> KafkaBroker:
    settings = settings or load_settings(GatekeeperSettings)
    broker = make_broker(settings, client_id="gatekeeper")
    subscribe(broker, bootstrap(settings=settings, publish=publisher(broker)))
    return broker
