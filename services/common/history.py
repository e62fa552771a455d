"""Reading topics back from the start to their current end, with no consumer group: the facts,
for rebuilding state and for looking at what happened. Reading commits nothing anywhere."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas import CATALOG, Event, Retention, decode_any
from schemas.codec import UnknownEventType
from services.common.kafka import Record, security_options
from services.common.settings import CommonSettings

log = logging.getLogger(__name__)
PIPELINE: tuple[str, ...] = tuple(s.name for s in CATALOG if s.retention is Retention.FOREVER)


async def partitions_of(settings: CommonSettings, topics: Sequence[str]) -> list[TopicPartition]:
    """The partitions of the topics that exist."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, **security_options(settings)
    )
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return [
        TopicPartition(t["topic"], p["partition"])
        for t in described
        if t["error_code"] == 0
        for p in sorted(t["partitions"], key=lambda p: p["partition"])
    ]


async def read_records(settings: CommonSettings, topics: Sequence[str]) -> list[Record]:
    """Every record of `topics` up to the end offsets seen when the read began."""
    partitions = await partitions_of(settings, topics)
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        **security_options(settings),
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        return await _read_until(consumer, ends)
    finally:
        await consumer.stop()


async def _read_until(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> list[Record]:
    records: list[Record] = []
    left = {tp for tp, end in ends.items() if end > 0}
    for tp in ends.keys() - left:
        consumer.pause(tp)
    while left:
        batch = await consumer.getmany(*left, timeout_ms=1000)
        for tp, part in batch.items():
            records.extend(r for r in part if r.offset < ends[tp])
        for tp in list(left):
            if await consumer.position(tp) >= ends[tp]:
                left.discard(tp)
    return records


async def read_events(settings: CommonSettings, topics: Sequence[str] = PIPELINE) -> list[Event]:
    """The events of `topics` in the order they happened; records that are not events are
    left out (they are in the dead-letter topic already)."""
    events = []
    for record in await read_records(settings, topics):
        try:
            events.append(decode_any(record.value))
        except (UnknownEventType, ValueError) as exc:
            log.debug(
                "not an event at %s/%s/%s: %r", record.topic, record.partition, record.offset, exc
            )
    return sorted(events, key=lambda e: e.occurred_at)
