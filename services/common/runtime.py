"""Running a Kafka-only service process: the broker, its subscribers, a clean shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from faststream import FastStream
from faststream.kafka import KafkaBroker

log = logging.getLogger(__name__)


def run(
    broker: KafkaBroker, *, name: str, on_stop: Callable[[], Awaitable[None]] | None = None
) -> None:
    """Serve until SIGINT/SIGTERM; FastStream waits for in-flight handlers before it stops."""
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {name} %(levelname)s %(message)s")
    app = FastStream(broker)
    if on_stop is not None:
        app.after_shutdown(on_stop)
    asyncio.run(app.run())


def replica_group(service: str, replica_id: str) -> str:
    """A consumer group of one: every replica receives every message (model events)."""
    return f"{service}-{replica_id}"
