"""Composition root of the inference service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from services.common.coordination import Coordination, RedisCoordination
from services.common.kafka import Publish
from services.common.models import LoadedModel, registry_from
from services.common.registry import ModelRegistry
from services.common.settings import load_settings
from services.common.store import ImageStore, LocalImageStore
from services.inference.config import InferenceConfig, InferenceSettings
from services.inference.domain import ModelSlot, ZipLimits
from services.inference.metrics import Metrics

DeadLetter = Callable[[bytes, Exception], Awaitable[None]]


@dataclass
class Inference:
    config: InferenceConfig
    model_name: str
    store: ImageStore
    registry: ModelRegistry
    coordination: Coordination
    publish: Publish
    dead_letter: DeadLetter
    slot: ModelSlot[LoadedModel] | None = None
    metrics: Metrics = field(default_factory=Metrics)

    @property
    def model(self) -> LoadedModel:
        if self.slot is None:
            raise RuntimeError("no model loaded yet")
        return self.slot.current

    @property
    def zip_limits(self) -> ZipLimits:
        c = self.config
        return ZipLimits(c.max_zip_entries, c.max_zip_unpacked_bytes, c.max_upload_bytes)


def bootstrap(
    *,
    publish: Publish,
    dead_letter: DeadLetter,
    settings: InferenceSettings | None = None,
    store: ImageStore | None = None,
    registry: ModelRegistry | None = None,
    coordination: Coordination | None = None,
) -> Inference:
    settings = settings or load_settings(InferenceSettings)
    return Inference(
        config=settings.inference,
        model_name=settings.mlflow.model_name,
        store=store or LocalImageStore(settings.store_root),
        registry=registry or registry_from(settings),
        coordination=coordination or RedisCoordination.from_url(settings.redis_url),
        publish=publish,
        dead_letter=dead_letter,
    )
