"""Following one production line's events live, as the demo and the end-to-end tests do."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Collection
from types import TracebackType

from aiokafka import AIOKafkaConsumer

from schemas import CATALOG, Event, Retention, decode_any
from services.common.settings import CommonSettings

PIPELINE = [spec.name for spec in CATALOG if spec.retention is Retention.FOREVER]


class Watcher:
    """Reads every event published after it started: the lines' predictions and yield reports,
    and every pipeline event (iterations are matched to lines by their `line_id`)."""

    def __init__(
        self,
        settings: CommonSettings,
        *,
        line_id: str | Collection[str],
        topics: list[str] | None = None,
    ) -> None:
        self.lines = {line_id} if isinstance(line_id, str) else set(line_id)
        self.consumer = AIOKafkaConsumer(
            *(topics or [*PIPELINE, "yieldloop.predictions.made"]),
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=f"watch-{uuid.uuid4().hex}",
            auto_offset_reset="latest",
            enable_auto_commit=False,
        )

    async def __aenter__(self) -> Watcher:
        await self.consumer.start()
        while not self.consumer.assignment():  # join the group before anything is produced
            await self.consumer.getmany(timeout_ms=200)
        await self.consumer.seek_to_end()
        for partition in self.consumer.assignment():  # resolve positions now, not lazily
            await self.consumer.position(partition)
        return self

    async def __aexit__(
        self, *exc: type[BaseException] | BaseException | TracebackType | None
    ) -> None:
        await self.consumer.stop()

    async def events(self, *, tick_s: float = 0.5) -> AsyncIterator[Event | None]:
        """The line's events as they come; None on every quiet tick so callers can check time."""
        while True:
            batch = await self.consumer.getmany(timeout_ms=int(tick_s * 1000))
            records = sorted(
                (r for part in batch.values() for r in part), key=lambda r: r.timestamp
            )
            for record in records:
                event = decode_any(record.value)
                line = getattr(event, "line_id", None)
                if line is None or line in self.lines:
                    yield event
            if not records:
                yield None
            await asyncio.sleep(0)
