"""Images per second through each path, with the same champion and the same demo images:
a batched forward alone, PNG decode + forward, the Kafka path through the inference service,
and one sequential POST /predict per image; REST latency beside one raw forward."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from contextlib import nullcontext

import httpx
import numpy as np
from aiokafka import AIOKafkaConsumer

from bench.load import producer_for, send_all, steady_heap
from bench.procs import CpuUse
from schemas import ImageRef, ImageSubmitted, PredictionMade, codec, topic_for
from services.common.images import decode_image, encode_png
from services.common.models import LoadedModel
from services.common.settings import CommonSettings
from yieldloop.demo_line import DemoLine

BATCH = 64


def demo_pngs(n: int, *, seed: int = 11) -> list[bytes]:
    return [encode_png(p.image) for p in DemoLine(seed=seed).parts(n, drift=False)]


def forward_per_s(model: LoadedModel, pngs: list[bytes]) -> float:
    arrays = np.stack([decode_image(png) for png in pngs])
    started = time.perf_counter()
    for start in range(0, len(arrays), BATCH):
        model.classify(arrays[start : start + BATCH])
    return len(arrays) / (time.perf_counter() - started)


def decode_forward_per_s(model: LoadedModel, pngs: list[bytes]) -> float:
    started = time.perf_counter()
    for start in range(0, len(pngs), BATCH):
        model.classify(np.stack([decode_image(png) for png in pngs[start : start + BATCH]]))
    return len(pngs) / (time.perf_counter() - started)


def single_forward_ms(model: LoadedModel, png: bytes, repeats: int = 300) -> float:
    one = decode_image(png)[None]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.classify(one)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def submitted(pngs: list[bytes], line: str) -> list[ImageSubmitted]:
    return [
        ImageSubmitted(
            producer="bench", line_id=line, item_id=f"{line}-{i}", image=ImageRef.inline(png)
        )
        for i, png in enumerate(pngs)
    ]


async def kafka_per_s(
    settings: CommonSettings, pngs: list[bytes], cpu: CpuUse | None = None
) -> float:
    """Every image sent at once (the producer does not wait per record), timed until the
    prediction of the last one arrives; `cpu` also counts the CPU time of that part."""
    line = f"bench-{uuid.uuid4().hex[:6]}"
    events = submitted(pngs, line)
    async with _predictions(settings) as consumer:
        producer = producer_for(settings.kafka_bootstrap)
        await producer.start()
        try:
            with steady_heap(), cpu or nullcontext():
                started = time.perf_counter()
                bodies = [(codec.encode(e), codec.key(e)) for e in events]
                await send_all(producer, topic_for(ImageSubmitted), bodies)
                await _count(consumer, line, len(events))
                return len(events) / (time.perf_counter() - started)
        finally:
            await producer.stop()


class _predictions:
    """A consumer of the predictions topic positioned at its end before anything is sent."""

    def __init__(self, settings: CommonSettings) -> None:
        self.consumer = AIOKafkaConsumer(
            topic_for(PredictionMade),
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=f"bench-{uuid.uuid4().hex}",
            auto_offset_reset="latest",
            enable_auto_commit=False,
        )

    async def __aenter__(self) -> AIOKafkaConsumer:
        await self.consumer.start()
        while not self.consumer.assignment():
            await self.consumer.getmany(timeout_ms=100)
        for tp in self.consumer.assignment():
            await self.consumer.position(tp)
        return self.consumer

    async def __aexit__(self, *_: object) -> None:
        await self.consumer.stop()


async def _count(consumer: AIOKafkaConsumer, line: str, expected: int) -> None:
    needle, seen = f'"line_id":"{line}"'.encode(), set[bytes]()
    async with asyncio.timeout(300):
        while len(seen) < expected:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                seen.update(r.value for r in records if needle in r.value)


def http_sequential(url: str, pngs: list[bytes]) -> tuple[float, list[float]]:
    """One POST /predict after the other: images per second and each latency in ms."""
    latencies = []
    with httpx.Client(base_url=url, timeout=30) as http:
        started = time.perf_counter()
        for i, png in enumerate(pngs):
            began = time.perf_counter()
            reply = http.post("/predict", files={"file": (f"{i}.png", png, "image/png")})
            reply.raise_for_status()
            latencies.append((time.perf_counter() - began) * 1000)
        took = time.perf_counter() - started
    return len(pngs) / took, latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
