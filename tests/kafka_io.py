"""Reading topics back from the real broker in tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord

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
