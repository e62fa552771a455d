"""The monitor service's throughput: predictions sent at full speed to a healthy line, timed
until its YieldReported for the last of them, commits and publishes included. The clock starts
once the monitor has caught up with what the inference benches sent before."""

from __future__ import annotations

import asyncio
import time
import uuid

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from bench.load import producer_for, send_all, steady_heap
from schemas import ImageRef, PredictionMade, YieldReported, codec, topic_for
from services.common.image_stats import image_stats
from services.common.images import decode_image, encode_png
from services.common.topics import partitions_of
from services.monitor.app import GROUP
from services.monitor.config import MonitorConfig
from services.monitor.domain import LineMonitor
from yieldloop.demo_line import DemoLine


def predictions(n: int, line: str) -> list[PredictionMade]:
    """As the inference service sends them: with each image's statistics for the input signal."""
    stats = [
        {k: round(v, 5) for k, v in image_stats(decode_image(encode_png(p.image))).items()}
        for p in DemoLine(seed=3).parts(200, drift=False)
    ]
    return [
        PredictionMade(
            producer="bench",
            line_id=line,
            item_id=str(i),
            image=ImageRef(sha256=f"{i:064x}", uri=f"file:///bench/sha256/{i:064x}"),
            label="NG" if i % 7 == 0 else "OK",
            confidence=0.95,
            model_name="inspection",
            model_version="1",
            input_stats=stats[i % len(stats)],
        )
        for i in range(n)
    ]


def reports_expected(events: list[PredictionMade], config: MonitorConfig) -> int:
    """How many reports the monitor's own policy gives for these predictions."""
    line: LineMonitor[ImageRef] = LineMonitor(config.policy())
    return sum(
        line.observe(
            ref=e.image, label=e.label, confidence=e.confidence, features=e.input_stats
        ).report
        is not None
        for e in events
    )


async def monitor_per_s(bootstrap: str, config: MonitorConfig, n: int = 20_000) -> float:
    line = f"bench-monitor-{uuid.uuid4().hex[:6]}"
    events = predictions(n, line)
    expected = reports_expected(events, config)
    bodies = [(codec.encode(e), codec.key(e)) for e in events]
    consumer = AIOKafkaConsumer(
        topic_for(YieldReported),
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4().hex}",
        auto_offset_reset="latest",
    )
    await consumer.start()
    producer = producer_for(bootstrap)
    await producer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        for tp in consumer.assignment():
            await consumer.position(tp)
        await caught_up(bootstrap)
        with steady_heap():
            started = time.perf_counter()
            await send_all(producer, topic_for(PredictionMade), bodies)
            await _reports(consumer, line, expected)
            return n / (time.perf_counter() - started)
    finally:
        await producer.stop()
        await consumer.stop()


async def caught_up(bootstrap: str, timeout_s: float = 300) -> None:
    """Until the monitor's group has committed the end of the predictions topic."""
    topic = topic_for(PredictionMade)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    ends = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await ends.start()
    try:
        partitions = await partitions_of(admin, topic)
        async with asyncio.timeout(timeout_s):
            while True:
                last = await ends.end_offsets(partitions)
                done = await admin.list_consumer_group_offsets(GROUP, partitions=partitions)
                if all(tp in done and done[tp].offset >= end for tp, end in last.items()):
                    return
                await asyncio.sleep(0.5)
    finally:
        await ends.stop()
        await admin.close()


async def _reports(consumer: AIOKafkaConsumer, line: str, expected: int) -> None:
    needle, seen = f'"line_id":"{line}"'.encode(), 0
    async with asyncio.timeout(600):
        while seen < expected:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                seen += sum(needle in r.value for r in records)
