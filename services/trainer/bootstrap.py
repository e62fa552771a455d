"""Composition root of the trainer."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.coordination import Coordination, RedisCoordination
from services.common.kafka import Publish
from services.common.models import registry_from
from services.common.registry import ModelRegistry
from services.common.settings import load_settings
from services.common.store import ImageStore, LocalImageStore
from services.common.tracking import Tracking, tracking_from
from services.trainer.config import TrainerConfig, TrainerSettings


@dataclass
class Trainer:
    config: TrainerConfig
    model_name: str
    store: ImageStore
    registry: ModelRegistry
    tracking: Tracking
    coordination: Coordination
    publish: Publish


def bootstrap(
    *,
    publish: Publish,
    settings: TrainerSettings | None = None,
    store: ImageStore | None = None,
    registry: ModelRegistry | None = None,
    tracking: Tracking | None = None,
    coordination: Coordination | None = None,
) -> Trainer:
    settings = settings or load_settings(TrainerSettings)
    return Trainer(
        config=settings.trainer,
        model_name=settings.mlflow.model_name,
        store=store or LocalImageStore(settings.store_root),
        registry=registry or registry_from(settings),
        tracking=tracking or tracking_from(settings),
        coordination=coordination or RedisCoordination.from_url(settings.redis_url),
        publish=publish,
    )
