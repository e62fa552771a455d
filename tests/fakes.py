"""Collecting publisher and other small doubles for handler tests (unit tests only)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from aiokafka import ConsumerRecord

from schemas import Event, codec, topic_for

E = TypeVar("E", bound=Event)


class Crash(Exception):
    """Stands for the process dying at this point."""


class Published:
    """Stands in for the Kafka publisher in unit tests: keeps what was published, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.crash_on: Callable[[Event], bool] | None = None

    def crash_once(self, when: Callable[[Event], bool]) -> None:
        """The next publish that matches dies instead, as a crash right before it would."""
        self.crash_on = when

    async def __call__(self, event: Event) -> None:
        if self.crash_on is not None and self.crash_on(event):
            self.crash_on = None
            raise Crash(f"died before publishing {event.event_type}")
        self.events.append(event)

    async def all(self, events: Sequence[Event]) -> None:
        for event in events:
            await self(event)

    async def sent(self, events: Sequence[Event]) -> Awaitable[None]:
        await self.all(events)
        return asyncio.sleep(0)

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]


def record_of(
    event: Event | bytes, *, offset: int, topic: str | None = None, partition: int = 0
) -> ConsumerRecord[bytes, bytes]:
    """A Kafka record as a consumer hands it over, for handlers that take raw records."""
    value = event if isinstance(event, bytes) else codec.encode(event)
    return ConsumerRecord(
        topic=topic or (topic_for(event) if isinstance(event, Event) else "unknown"),
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=None,
        value=value,
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=len(value),
        headers=(),
    )


class DeadLetters:
    """Stands in for the dead-letter publisher: keeps each record with its error."""

    def __init__(self) -> None:
        self.records: list[tuple[ConsumerRecord[bytes, bytes], BaseException]] = []

    async def __call__(self, record: ConsumerRecord[bytes, bytes], exc: BaseException) -> None:
        self.records.append((record, exc))
