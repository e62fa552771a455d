"""The trainer's entrypoints: one Kafka subscriber, thin."""

from __future__ import annotations

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from schemas import DatasetCurated, ModelCandidate, TrainingProgressed, topic_for
from services.common.kafka import make_broker, publisher
from services.common.service import Runtime
from services.common.settings import load_settings
from services.common.wiring import service_for
from services.trainer import handlers
from services.trainer.bootstrap import Trainer, bootstrap
from services.trainer.config import TrainerSettings

GROUP = "trainer"
PRODUCES = (TrainingProgressed, ModelCandidate)
LONG_JOB_MS = 3_600_000  # above the worst training time: the group must not evict us mid-job


def subscribe(broker: KafkaBroker, t: Trainer) -> None:
    @broker.subscriber(
        topic_for(DatasetCurated),
        group_id=GROUP,
        auto_offset_reset="earliest",
        max_poll_interval_ms=LONG_JOB_MS,
    )
    async def on_dataset_curated(event: DatasetCurated) -> None:
        await t.runtime.handle("dataset_curated", lambda: handlers.dataset_curated(event, t))


def create(settings: TrainerSettings | None = None) -> FastAPI:
    settings = settings or load_settings(TrainerSettings)
    runtime = Runtime("trainer", backoff=settings.retry)
    broker = make_broker(settings, client_id="trainer", metrics=runtime.metrics)
    t = bootstrap(settings=settings, publish=publisher(broker, PRODUCES), runtime=runtime)
    subscribe(broker, t)
    return service_for(t, broker, settings, title="yieldloop trainer")
