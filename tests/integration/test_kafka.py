"""The event bus on a real Apache Kafka broker."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest
from aiokafka import ConsumerRecord

import schemas as s
from services.common.kafka import BATCH_BYTES, aiokafka_producer, make_broker, publisher
from services.common.settings import CommonSettings
from tests.kafka_io import Records, read_topics
from tests.samples import one_of_each
from yieldloop import stack as local_stack

pytestmark = pytest.mark.integration


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


async def test_events_sent_together_go_where_one_by_one_would_in_order(
    stack: CommonSettings,
) -> None:
    """Batches of a call to `all`: each record in the partition its key gives when sent on its
    own, with its own headers, once, in order per key; more than one batch's worth included."""
    run = uuid.uuid4().hex[:8]  # the topic outlives a test run: this run's records only
    lines = [f"batch-line-{i}" for i in range(6)]
    alone = [prediction(lines[0], f"alone-{run}", 0)]
    together = [prediction(lines[i % 6], f"together-{run}", i) for i in range(4_000)]
    async with make_broker(stack, client_id="together") as broker:
        publish = publisher(broker, produces=[s.PredictionMade])
        await publish(alone[0])
        await publish.all(together)
        await publish.all([])

    topic = s.topic_for(s.PredictionMade)
    records = await read_topics(
        stack, [topic], until=lambda rs: len(tagged(rs, f"together-{run}")) >= len(together)
    )
    sent = tagged(records, f"together-{run}")
    assert sorted(r.value for r in sent) == sorted(s.encode(e) for e in together)  # each once
    partition_of = {r.key: r.partition for r in sent}
    size_of = Counter[int]()
    for r in sent:
        size_of[r.partition] += len(r.value)
    assert max(size_of.values()) > BATCH_BYTES  # a partition's records filled a batch and more
    assert len(partition_of) == len(lines)  # a key's records share one partition
    assert partition_of[lines[0].encode()] == tagged(records, f"alone-{run}")[0].partition
    assert len(set(partition_of.values())) > 1  # the lines spread over partitions
    for line in lines:
        mine = [r for r in sent if r.key == line.encode()]
        items = [s.decode_any(r.value).item_id for r in mine]  # type: ignore[attr-defined]
        assert items == [e.item_id for e in together if e.line_id == line]  # in order
        assert {k: v.decode() for k, v in mine[0].headers} == {
            "event_type": "PredictionMade",
            "schema_version": "1",
            "correlation_id": "",
            "content-type": "application/json",
        }


def prediction(line: str, tag: str, i: int) -> s.PredictionMade:
    return s.PredictionMade(
        producer=tag,
        line_id=line,
        item_id=f"{tag}-{i}",
        image=s.ImageRef(sha256=f"{i:064x}", uri=f"file:///images/{i:064x}"),
        label="OK",
        confidence=0.9,
        model_name="inspection",
        model_version="1",
        input_stats={"mean": 0.5, "contrast": 0.25},
    )


def tagged(records: Records, tag: str) -> Records:
    return [r for r in records if f'"producer":"{tag}"'.encode() in r.value]


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
