"""The event bus on a real Apache Kafka broker."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient

import schemas as s
from services.common.image_stats import image_stats
from services.common.kafka import (
    BATCH_BYTES,
    aiokafka_producer,
    batches,
    make_broker,
    publisher,
)
from services.common.settings import CommonSettings
from services.common.topics import ensure_topics, partitions_of
from services.monitor.config import MonitorConfig
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


async def test_one_busy_partition_fills_a_whole_batch_in_one_fetch(stack: CommonSettings) -> None:
    """The predictions of one line share a partition. Under load the monitor must still get
    full batches from it, or every fetch would wait out `batch_wait_ms` for bytes that one
    partition's share of a fetch can never hold."""
    c = MonitorConfig()
    fetch = batches(c.batch_max, wait_ms=c.batch_wait_ms, record_bytes=c.batch_record_bytes)
    run = uuid.uuid4().hex[:8]
    stats = image_stats(np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8))
    events = [
        prediction(f"busy-{run}", run, i).model_copy(update={"input_stats": stats})
        for i in range(c.batch_max * 3 // 2)
    ]
    topic = s.topic_for(s.PredictionMade)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap,
        enable_auto_commit=False,
        fetch_min_bytes=fetch["fetch_min_bytes"],
        fetch_max_wait_ms=fetch["fetch_max_wait_ms"],
        max_partition_fetch_bytes=fetch["max_partition_fetch_bytes"],
    )
    await ensure_topics(stack)
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    await consumer.start()
    try:
        partitions = await partitions_of(admin, topic)
        before = await consumer.end_offsets(partitions)
        async with make_broker(stack, client_id="busy") as broker:
            await publisher(broker, produces=[s.PredictionMade]).all(events)
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, before[tp])  # everything is there before the first fetch

        first = await consumer.getmany(max_records=fetch["max_records"], timeout_ms=10_000)
    finally:
        await consumer.stop()
        await admin.close()

    assert sum(len(s.encode(e)) for e in events[: c.batch_max]) > 1024 * 1024
    [(_, records)] = first.items()  # one line, one partition
    assert [s.decode(r.value, s.PredictionMade) for r in records] == events[: c.batch_max]
