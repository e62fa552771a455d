"""The benches' load generator: records sent at full speed as the producer's batches, so that on
a machine it shares with the service under test it takes as little of the CPU as it can."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from aiokafka import AIOKafkaProducer

from services.common.kafka import BATCH_BYTES, Outgoing, send_batches


def producer_for(bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_batch_size=BATCH_BYTES)


async def send_all(
    producer: AIOKafkaProducer, topic: str, bodies: list[tuple[bytes, bytes]]
) -> None:
    """Each (body, key) to the partition of its key, in order; done once all are acknowledged."""
    await (await send_batches(producer, (Outgoing(topic, key, body, []) for body, key in bodies)))


@contextmanager
def steady_heap() -> Iterator[None]:
    """While a load is timed, what the load generator holds (torch, the images, the events to
    send) is frozen, as the services freeze theirs: otherwise a full collection walks it in the
    middle of a run, 0.3 s with the generator stopped, and the pause counts against the
    service under test."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
