"""Reading topics back from the start (or from a moment) to their end, with no consumer group:
the facts, for rebuilding state and for looking at what happened. Reading commits nothing
anywhere, so it changes no group's position and can run beside the live consumers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas import CATALOG, Event, Retention, spec_for
from schemas.codec import UnknownEventType
from services.common.kafka import Record, security_options
from services.common.settings import CommonSettings

log = logging.getLogger(__name__)
PIPELINE: tuple[str, ...] = tuple(s.name for s in CATALOG if s.retention is Retention.FOREVER)
EVENT_OF_TOPIC = {spec.name: spec.event for spec in CATALOG}
# Large fetches: reading history is throughput-bound, and a few MiB per partition per round
# trip keeps the broker streaming instead of answering many small requests.
READ_OPTIONS: dict[str, Any] = {
    "max_partition_fetch_bytes": 8 << 20,
    "fetch_max_bytes": 64 << 20,
    "enable_auto_commit": False,
    # Where a partition's position is ever reset, it is to its first record, never past it.
    "auto_offset_reset": "earliest",
}


@dataclass(frozen=True)
class Window:
    """Records whose Kafka timestamp lies in [since, until); None leaves that side open."""

    since: datetime | None = None
    until: datetime | None = None


EVER = Window()


async def existing(settings: CommonSettings, topics: Sequence[str]) -> list[str]:
    """The topics of `topics` the broker has (a reader asked for a missing one would fail)."""
    probe = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, **security_options(settings)
    )
    await probe.start()
    try:
        known = await probe.topics()
    finally:
        await probe.stop()
    return [t for t in topics if t in known]


async def batches(
    settings: CommonSettings, topics: Sequence[str], *, window: Window = EVER
) -> AsyncIterator[list[Record]]:
    """The records of `topics` in `window`, up to the end offsets seen when the read began, as
    they arrive (in offset order within each partition)."""
    present = await existing(settings, topics)
    if not present:
        return
    # Named topics without a group: the consumer learns their partitions at start and is
    # assigned all of them; nothing is ever committed.
    consumer = AIOKafkaConsumer(
        *present,
        bootstrap_servers=settings.kafka_bootstrap,
        **READ_OPTIONS,
        **security_options(settings),
    )
    await consumer.start()
    try:
        partitions = sorted(consumer.assignment())
        starts, ends = await _bounds(consumer, partitions, window)
        left = {tp for tp in partitions if starts[tp] < ends[tp]}
        for tp in partitions:
            if tp in left:
                consumer.seek(tp, starts[tp])
            else:
                consumer.pause(tp)
        async for batch in _until(consumer, left, ends):
            yield batch
    finally:
        await consumer.stop()


async def _bounds(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], window: Window
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    first = await consumer.beginning_offsets(partitions)
    last = await consumer.end_offsets(partitions)
    return (
        await _at(consumer, window.since, default=first, past_end=last),
        await _at(consumer, window.until, default=last, past_end=last),
    )


async def _at(
    consumer: AIOKafkaConsumer,
    moment: datetime | None,
    *,
    default: dict[TopicPartition, int],
    past_end: dict[TopicPartition, int],
) -> dict[TopicPartition, int]:
    """The first offset at or after `moment` in each partition (offsets-for-times)."""
    if moment is None:
        return dict(default)
    ms = int(moment.timestamp() * 1000)
    found = await consumer.offsets_for_times({tp: ms for tp in default})
    return {tp: (hit.offset if hit is not None else past_end[tp]) for tp, hit in found.items()}


async def _until(
    consumer: AIOKafkaConsumer, left: set[TopicPartition], ends: dict[TopicPartition, int]
) -> AsyncIterator[list[Record]]:
    while left:
        fetched = await consumer.getmany(*left, timeout_ms=1000)
        batch: list[Record] = []
        for tp, part in fetched.items():
            end = ends[tp]
            batch.extend(part if part[-1].offset < end else [r for r in part if r.offset < end])
        if batch:
            yield batch
        for tp in fetched.keys() if fetched else list(left):
            if await consumer.position(tp) >= ends[tp]:
                left.discard(tp)
                consumer.pause(tp)  # a live topic grows meanwhile: read no further


async def read_records(
    settings: CommonSettings, topics: Sequence[str], *, window: Window = EVER
) -> list[Record]:
    """Every record of `topics` in `window` up to the end offsets seen when the read began."""
    records: list[Record] = []
    async for batch in batches(settings, topics, window=window):
        records.extend(batch)
    return records


def event_of(record: Record) -> Event | None:
    """The event a record holds (one event type per topic), or None for one that is not an
    event: it is in the dead-letter topic already."""
    try:
        kind = EVENT_OF_TOPIC.get(record.topic) or spec_for(_header_type(record)).event
        return kind.model_validate_json(record.value)
    except (UnknownEventType, KeyError, ValueError) as exc:
        where = f"{record.topic}/{record.partition}/{record.offset}"
        log.debug("not an event at %s: %r", where, exc)
        return None


def _header_type(record: Record) -> str:
    return next((v.decode() for k, v in record.headers or () if k == "event_type"), "")


async def read_events(
    settings: CommonSettings, topics: Sequence[str] = PIPELINE, *, window: Window = EVER
) -> list[Event]:
    """The events of `topics` in the order they happened; records that are not events are
    left out (they are in the dead-letter topic already)."""
    events = [e for r in await read_records(settings, topics, window=window) if (e := event_of(r))]
    return sorted(events, key=lambda e: e.occurred_at)
