"""The dashboard's app: a subscriber with no consumer group follows the pipeline topics and the
dead letters from their start, a timer asks MLflow where the aliases stand, routes render."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from fastapi import FastAPI
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage

from schemas import DEAD_LETTER
from services.common.health import broker_check
from services.common.history import PIPELINE
from services.common.kafka import make_broker
from services.common.service import Lifecycle, Runtime, service_app
from services.common.settings import load_settings
from yieldloop.audit.tracked import ALIASES, Tracked
from yieldloop.dashboard import routes
from yieldloop.dashboard.board import Board
from yieldloop.dashboard.config import DashboardSettings

log = logging.getLogger(__name__)


def subscribe(broker: KafkaBroker, board: Board) -> None:
    """No group: nothing is committed, every start reads the whole history again."""
    records = broker.subscriber(
        *PIPELINE,
        DEAD_LETTER,
        group_id=None,
        batch=True,
        max_records=2000,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.ACK_FIRST,
    )

    @records
    async def on_records(message: KafkaMessage) -> None:
        board.add(message.raw_message)


def models(tracked: Tracked, name: str) -> list[dict[str, Any]]:
    found = []
    for alias in ALIASES:
        mv = tracked.registry.by_alias(name, alias)
        found.append(
            {
                "alias": alias,
                "version": mv.version if mv else None,
                "iteration_id": mv.tags.get("iteration_id") if mv else None,
                "parent_version": mv.tags.get("parent_version") if mv else None,
                "sha256": mv.sha256 if mv else None,
            }
        )
    return found


def create(settings: DashboardSettings | None = None) -> FastAPI:
    settings = settings or load_settings(DashboardSettings)
    runtime = Runtime("dashboard", backoff=settings.retry)
    broker = make_broker(settings, client_id="dashboard", metrics=runtime.metrics)
    board = Board(reports_per_line=settings.dashboard.reports_per_line)
    subscribe(broker, board)
    tracked = Tracked.of(settings)

    async def follow_aliases() -> None:
        while True:
            with contextlib.suppress(Exception):  # MLflow away: the last answer stays shown
                board.models = await asyncio.to_thread(models, tracked, settings.mlflow.model_name)
            await asyncio.sleep(settings.dashboard.aliases_every_s)

    runtime.health.checks.update(kafka=broker_check(broker))
    api = service_app(
        title="yieldloop dashboard",
        broker=broker,
        runtime=runtime,
        lifecycle=Lifecycle(loops=[follow_aliases]),
    )
    api.state.board, api.state.settings = board, settings
    api.include_router(routes.router)
    return api
