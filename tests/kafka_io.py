"""Reading topics back from the real broker in tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient

from services.common.settings import CommonSettings

Records = list[ConsumerRecord[bytes, bytes]]


def never(_: Records) -> bool:
    return False


async def read_topics(
    settings: CommonSettings,
    topics: list[str],
    *,
    until: Callable[[Records], bool] = never,
    timeout: float = 30.0,
) -> Records:
    """Records of `topics` from the beginning (a fresh consumer group), read until `until` says
    enough or `timeout` passes. Other tests share the topics: callers look for their own."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=f"test-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: Records = []
    try:
        async with asyncio.timeout(timeout):
            while not until(records):
                batch = await consumer.getmany(timeout_ms=500)
                for part in batch.values():
                    records.extend(part)
    except TimeoutError:
        pass
    finally:
        await consumer.stop()
    return records


async def offsets_now(settings: CommonSettings, *, settle_s: float) -> dict[str, Any]:
    """Every topic's end offsets and every consumer group's committed offsets; with `settle_s`,
    read again until two reads that far apart agree (or a minute passes)."""
    now = await _offsets(settings)
    deadline = asyncio.get_running_loop().time() + 60
    while settle_s and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(settle_s)
        previous, now = now, await _offsets(settings)
        if now == previous:
            break
    return now


async def _offsets(settings: CommonSettings) -> dict[str, Any]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        groups = sorted(g[0] for g in await admin.list_consumer_groups())
        committed = {
            g: {f"{tp.topic}/{tp.partition}": m.offset for tp, m in offsets.items()}
            for g in groups
            if (offsets := await admin.list_consumer_group_offsets(g)) is not None
        }
        topics = [t for t in await admin.list_topics() if not t.startswith("__")]
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=settings.kafka_bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(list(consumer.assignment()))
    finally:
        await consumer.stop()
    return {
        "ends": {f"{tp.topic}/{tp.partition}": end for tp, end in ends.items()},
        "groups": committed,
    }
