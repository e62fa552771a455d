"""The adapters a model job (curator, trainer, gatekeeper) works with, built in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Required, TypedDict, Unpack

from services.common.coordination import Coordination, RedisCoordination
from services.common.kafka import Publish
from services.common.models import registry_from
from services.common.registry import ModelRegistry
from services.common.settings import CommonSettings
from services.common.store import ImageStore, LocalImageStore
from services.common.tracking import Tracking, tracking_from


@dataclass
class ModelJob:
    """What every model job holds: the live model's name and its ports to the outside."""

    model_name: str
    store: ImageStore
    registry: ModelRegistry
    tracking: Tracking
    coordination: Coordination
    publish: Publish


class Adapters(TypedDict):
    model_name: str
    store: ImageStore
    registry: ModelRegistry
    tracking: Tracking
    coordination: Coordination
    publish: Publish


class Given(TypedDict, total=False):
    """What a caller may hand a bootstrap instead of the real adapter; `publish` it always does."""

    publish: Required[Publish]
    store: ImageStore
    registry: ModelRegistry
    tracking: Tracking
    coordination: Coordination


def adapters(settings: CommonSettings, **given: Unpack[Given]) -> Adapters:
    """The real adapters, except those the caller hands in (fakes in tests)."""
    return Adapters(
        model_name=settings.mlflow.model_name,
        store=given.get("store") or LocalImageStore(settings.store_root),
        registry=given.get("registry") or registry_from(settings),
        tracking=given.get("tracking") or tracking_from(settings),
        coordination=given.get("coordination") or RedisCoordination.from_url(settings.redis_url),
        publish=given["publish"],
    )
