"""The adapters every service works with, built in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Required, TypedDict, Unpack

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from services.common import faults
from services.common.coordination import Coordination, RedisCoordination
from services.common.health import broker_check
from services.common.kafka import Publish
from services.common.ledger import Ledger, RedisLedger, ensure_rebuilt
from services.common.models import registry_from
from services.common.registry import ModelRegistry
from services.common.service import Lifecycle, Runtime, service_app
from services.common.settings import CommonSettings
from services.common.store import ImageStore, LocalImageStore
from services.common.tracking import Tracking, tracking_from


@dataclass
class Ports:
    """What every service holds: the live model's name, its ports to the outside, its runtime."""

    model_name: str
    store: ImageStore
    registry: ModelRegistry
    tracking: Tracking
    coordination: Coordination
    ledger: Ledger
    publish: Publish
    runtime: Runtime


class Adapters(TypedDict):
    model_name: str
    store: ImageStore
    registry: ModelRegistry
    tracking: Tracking
    coordination: Coordination
    ledger: Ledger
    publish: Publish
    runtime: Runtime


class Given(TypedDict, total=False):
    """What a caller may hand a bootstrap instead of the real adapter; `publish` it always does."""

    publish: Required[Publish]
    store: ImageStore
    registry: ModelRegistry
    tracking: Tracking
    coordination: Coordination
    ledger: Ledger
    runtime: Runtime


def adapters(settings: CommonSettings, *, service: str, **given: Unpack[Given]) -> Adapters:
    """The real adapters, except those the caller hands in (fakes in tests)."""
    faults.arm(settings.faults.crash_at)
    model = settings.mlflow.model_name
    return Adapters(
        model_name=model,
        store=given.get("store") or LocalImageStore(settings.store_root),
        registry=given.get("registry") or registry_from(settings),
        tracking=given.get("tracking") or tracking_from(settings),
        coordination=given.get("coordination") or RedisCoordination.from_url(settings.redis_url),
        ledger=given.get("ledger") or RedisLedger.from_url(settings.redis_url, model_name=model),
        publish=given["publish"],
        runtime=given.get("runtime") or Runtime(service, backoff=settings.retry),
    )


def service_for(
    ports: Ports,
    broker: KafkaBroker,
    settings: CommonSettings,
    *,
    title: str,
    lifecycle: Lifecycle | None = None,
) -> FastAPI:
    """The service's app: ready when Kafka and Redis answer; before the broker starts, the
    ledger is rebuilt from the pipeline topics if Redis lost it."""
    ports.runtime.health.checks.update(kafka=broker_check(broker), redis=ports.coordination.ping)
    steps = lifecycle or Lifecycle()

    async def ledger_ready() -> None:
        await ensure_rebuilt(ports.ledger, settings)

    steps.before_broker.insert(0, ledger_ready)
    api = service_app(title=title, broker=broker, runtime=ports.runtime, lifecycle=steps)
    if settings.faults.enabled:
        api.include_router(faults.router)
    return api
