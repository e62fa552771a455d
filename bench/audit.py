"""How fast `yieldloop audit` reads history, against the limit: a plain aiokafka read of the same
topics with the same consumer settings.

A Kafka broker of its own (other ports and folder) is filled with a million events shaped like
the demo's: predictions of four lines, a yield report every ten, and whole iterations (request,
curation, epochs, candidate, approval, deployment) every 20,000 predictions, with a few facts
republished under the same id. Then both reads run in turn, twice each, and print side by side.

    python bench/audit.py [--events 1000000] [--port 29592]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

import schemas as s
from services.common.history import READ_OPTIONS
from services.common.settings import CommonSettings
from services.common.topics import ensure_topics
from yieldloop.audit.audit import read
from yieldloop.audit.collect import AUDITED
from yieldloop.stack.components import Kafka

LINES = ("line-a", "line-b", "line-c", "line-d")
ITERATION_EVERY = 20_000
REPUBLISH_EVERY = 2_000  # one fact in this many goes out twice under the same id
IMAGE = s.ImageRef(sha256="ab" * 32, uri="file:///store/sha256/ab/ab/" + "ab" * 32)
SHA = "cd" * 32


def bench_settings(port: int) -> CommonSettings:
    return CommonSettings(
        stack={
            "state_dir": ".yieldloop/bench-audit",
            "kafka_port": port,
            "kafka_controller_port": port + 1,
            "kafka_heap": "1g",
        }
    )


def iteration(n: int, at: datetime) -> list[s.Event]:
    """One whole iteration's facts, approved and deployed."""
    it = {"iteration_id": f"bench-{n}", "line_id": LINES[n % len(LINES)], "producer": "bench"}
    tick = iter(at + timedelta(seconds=i) for i in range(20))
    made = [
        s.RetrainRequested(
            **it, occurred_at=next(tick), reason="bench", yield_rate=0.4, threshold=0.7,
            champion_version=str(n + 1), images=[IMAGE] * 600,
        ),
        s.DatasetCurated(
            **it, occurred_at=next(tick), manifest_uri="file:///m", manifest_sha256=SHA,
            considered=600, selected=550, disagreements=20, split_sizes={"train": 400},
            class_counts={"OK": 450, "NG": 100}, base_version=str(n + 1),
        ),
        *(
            s.TrainingProgressed(
                **it, occurred_at=next(tick), epoch=e, epochs=4, train_loss=0.1, val_accuracy=0.9
            )
            for e in range(1, 5)
        ),
        s.ModelCandidate(
            **it, occurred_at=next(tick), model_name="inspection", version=str(n + 2),
            run_id="r", manifest_uri="file:///m", manifest_sha256=SHA, base_version=str(n + 1),
        ),
        s.ModelApproved(
            **it, occurred_at=next(tick), model_name="inspection", version=str(n + 2),
            previous_version=str(n + 1), scores={"challenger_holdout": 0.95},
        ),
        s.ModelDeployed(
            **it, occurred_at=next(tick), model_name="inspection", version=str(n + 2),
            replica_id="inference-1", loaded_at=next(tick), warmup_ms=3.0,
        ),
    ]  # fmt: skip
    return made


def events(total: int) -> Iterator[s.Event]:
    """`total` events in the order a busy line would produce them."""
    at, made, n = datetime(2026, 1, 1, tzinfo=UTC), 0, 0
    while made < total:
        line = LINES[n % len(LINES)]
        at += timedelta(milliseconds=5)
        batch: list[s.Event] = [
            s.PredictionMade.model_construct(
                event_id=uuid.uuid4(), event_type="PredictionMade", schema_version=1,
                occurred_at=at, producer="inference", correlation_id=None, causation_id=None,
                line_id=line, item_id=f"item-{n}", image=IMAGE, label="OK" if n % 7 else "NG",
                confidence=0.9, model_name="inspection", model_version="1", source="stream",
            )
        ]  # fmt: skip
        if n % 10 == 9:
            batch.append(
                s.YieldReported(
                    producer="monitor", occurred_at=at, line_id=line, window_size=29,
                    yield_rate=0.8, threshold=0.7, mean_confidence=0.9, low_confidence_share=0.1,
                    mix_shift=0.05, state="healthy", model_version="1",
                )
            )  # fmt: skip
        if n % ITERATION_EVERY == ITERATION_EVERY - 1:
            batch.extend(iteration(n // ITERATION_EVERY, at))
        for event in batch[: total - made]:
            yield event
            made += 1
        n += 1


async def fill(settings: CommonSettings, total: int) -> tuple[int, float]:
    """Publish `total` records (some republished); returns (records, seconds)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, linger_ms=50, max_batch_size=1 << 20
    )
    await producer.start()
    started, sent, pending = time.perf_counter(), 0, []
    try:
        for event in events(total):
            copies = 2 if sent % REPUBLISH_EVERY == REPUBLISH_EVERY - 1 and sent < total - 1 else 1
            for _ in range(copies):
                headers = [(k, v.encode()) for k, v in s.headers(event).items()]
                pending.append(
                    await producer.send(
                        s.topic_for(event), s.encode(event), key=s.key(event), headers=headers
                    )
                )
                sent += 1
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent, time.perf_counter() - started


async def plain_read(settings: CommonSettings) -> tuple[int, float]:
    """The limit: every record of the audited topics, counted and nothing more. Each partition
    is read from its first offset until its position reaches the end seen at the start."""
    started = time.perf_counter()
    consumer = AIOKafkaConsumer(
        *AUDITED, bootstrap_servers=settings.kafka_bootstrap, **READ_OPTIONS
    )
    await consumer.start()
    try:
        partitions = sorted(consumer.assignment())
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, starts[tp])
        left, count = {tp for tp in partitions if starts[tp] < ends[tp]}, 0
        while left:
            for part in (await consumer.getmany(*left, timeout_ms=1000)).values():
                count += len(part)
            for tp in list(left):
                if await consumer.position(tp) >= ends[tp]:
                    left.discard(tp)
    finally:
        await consumer.stop()
    return count, time.perf_counter() - started


async def audit_read(settings: CommonSettings) -> tuple[int, float, dict[str, int]]:
    started = time.perf_counter()
    audit = await read(settings)
    took = time.perf_counter() - started
    got = audit.got
    found = {
        "iterations": len(audit.stories),
        "distinct events": len(got.events) + sum(len(p) for p in got.lines.values()),
        "republished": sum(got.repeats.values()),
    }
    return got.records, took, found


async def measure(settings: CommonSettings, rounds: int) -> None:
    plain, audited = [], []
    for _ in range(rounds):
        plain.append(await plain_read(settings))
        records, took, found = await audit_read(settings)
        audited.append((records, took))
    p_rate = statistics.median(n / t for n, t in plain)
    a_rate = statistics.median(n / t for n, t in audited)
    rows = [
        (
            f"read of {plain[0][0]:,} records",
            "seconds (each round)",
            "events/s (median)",
            "vs plain",
        ),
        ("plain aiokafka read", _secs(plain), f"{p_rate:,.0f}", "1.00"),
        ("yieldloop audit read", _secs(audited), f"{a_rate:,.0f}", f"{a_rate / p_rate:.2f}"),
    ]
    print()
    for row in rows:
        print(f"{row[0]:<28}{row[1]:<22}{row[2]:>18}{row[3]:>10}")
    print(f"audit found: {found}")


def _secs(runs: list[tuple[int, float]]) -> str:
    return " ".join(f"{t:.1f}" for _, t in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--port", type=int, default=29592)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    settings = bench_settings(args.port)
    kafka = Kafka("kafka", settings)
    shutil.rmtree(settings.stack.path(), ignore_errors=True)
    kafka.up()
    try:
        asyncio.run(ensure_topics(settings))
        sent, took = asyncio.run(fill(settings, args.events))
        print(
            f"published {sent:,} records ({args.events:,} events, {sent - args.events:,} "
            f"republished under the same id) in {took:.1f} s"
        )
        asyncio.run(measure(settings, args.rounds))
    finally:
        kafka.daemon.stop()
        shutil.rmtree(settings.stack.path(), ignore_errors=True)


if __name__ == "__main__":
    main()
