"""The event bus on a real Apache Kafka broker."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker

import schemas as s
from services.common.kafka import make_broker, publisher
from services.common.settings import CommonSettings
from tests.kafka_io import Records, read_topics
from tests.samples import one_of_each
from yieldloop import stack as local_stack

pytestmark = pytest.mark.integration


def aiokafka_producer(broker: KafkaBroker):  # type: ignore[no-untyped-def]
    return broker._producer._producer.producer  # type: ignore[attr-defined,union-attr]


async def test_every_event_type_round_trips_with_its_headers(stack: CommonSettings) -> None:
    events = one_of_each(producer="round-trip")
    async with make_broker(stack, client_id="round-trip") as broker:
        publish = publisher(broker, produces=[type(e) for e in events])  # as the services do
        for event in events:
            await publish(event)

    topics = {s.topic_for(e) for e in events}

    def mine_of(records: Records) -> dict[str, ConsumerRecord[bytes, bytes]]:
        return {r.topic: r for r in records if b'"round-trip"' in r.value}

    records = await read_topics(
        stack, sorted(topics), until=lambda rs: mine_of(rs).keys() >= topics
    )
    mine = mine_of(records)
    assert set(mine) == {s.topic_for(e) for e in events}
    for event in events:
        record = mine[s.topic_for(event)]
        headers = {k: v.decode() for k, v in record.headers}
        assert s.decode_any(record.value) == event
        assert headers["event_type"] == event.event_type
        assert headers["schema_version"] == "1"
        assert headers["correlation_id"] == event.correlation_id
        assert record.key == s.key(event)


async def test_the_producer_waits_for_all_replicas_and_is_idempotent(stack: CommonSettings) -> None:
    async with make_broker(stack, client_id="acks") as broker:
        await publisher(broker)(one_of_each()[-1])
        producer = aiokafka_producer(broker)
        assert producer._sender._acks == -1  # acks=all
        assert producer._txn_manager is not None  # idempotence on
        assert producer._txn_manager.producer_id >= 0  # the broker handed out a producer id


async def test_what_was_written_survives_a_broker_restart(stack: CommonSettings) -> None:
    alerts = [
        s.AlertRaised(producer="restart", severity="info", summary=f"before restart {i}")
        for i in range(5)
    ]
    async with make_broker(stack, client_id="restart") as broker:
        for alert in alerts:
            await publisher(broker)(alert)

    await asyncio.to_thread(local_stack.restart, stack, "kafka")

    def all_back(records: Records) -> bool:
        read_back = [r.value for r in records]
        return all(s.encode(alert) in read_back for alert in alerts)

    records = await read_topics(stack, [s.topic_for(s.AlertRaised)], until=all_back, timeout=30)
    assert all_back(records)
