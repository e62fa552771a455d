"""The benches' load generator: records sent at full speed as the producer's batches, so that on
a machine it shares with the service under test it takes as little of the CPU as it can."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from services.common.kafka import BATCH_BYTES, Outgoing, send_batches


def producer_for(bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_batch_size=BATCH_BYTES)


async def send_all(
    producer: AIOKafkaProducer, topic: str, bodies: list[tuple[bytes, bytes]]
) -> None:
    """Each (body, key) to the partition of its key, in order; done once all are acknowledged."""
    await (await send_batches(producer, (Outgoing(topic, key, body, []) for body, key in bodies)))
