"""Reading topics back from the real broker in tests."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from services.common.settings import CommonSettings


async def read_topics(
    settings: CommonSettings, topics: list[str], *, count: int, timeout: float = 30.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """The first `count` records of `topics` from the beginning, as a fresh consumer group."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=f"test-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        async with asyncio.timeout(timeout):
            while len(records) < count:
                batch = await consumer.getmany(timeout_ms=500)
                for part in batch.values():
                    records.extend(part)
    except TimeoutError:
        pass
    finally:
        await consumer.stop()
    return records
