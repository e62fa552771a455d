"""A hot swap under load: REST clients and the Kafka path busy, a newer version approved midway.
Failures are counted and REST p99 compared with the same load without a swap."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

import httpx
from aiokafka import AIOKafkaProducer

from bench.paths import percentile, submitted
from schemas import ModelApproved, codec, topic_for
from services.common.kafka import make_broker, publisher
from services.common.models import registry_from
from services.common.registry import CHAMPION
from services.common.settings import CommonSettings


@dataclass(frozen=True)
class Load:
    latencies: list[float]
    failures: int


async def rest_clients(url: str, png: bytes, *, clients: int, seconds: float) -> Load:
    latencies: list[float] = []
    failures = 0
    deadline = time.monotonic() + seconds

    async def client(k: int) -> None:
        nonlocal failures
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            while time.monotonic() < deadline:
                began = time.perf_counter()
                try:
                    reply = await http.post("/predict", files={"file": (f"{k}.png", png)})
                    failures += reply.status_code != 200
                except httpx.HTTPError:
                    failures += 1
                latencies.append((time.perf_counter() - began) * 1000)

    await asyncio.gather(*(client(k) for k in range(clients)))
    return Load(latencies, failures)


async def kafka_feed(
    settings: CommonSettings, pngs: list[bytes], *, rate: float, seconds: float
) -> None:
    events = submitted(pngs, f"bench-swap-{uuid.uuid4().hex[:6]}")
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        started = time.monotonic()
        for i in range(int(rate * seconds)):
            e = events[i % len(events)]
            await producer.send(topic_for(e), codec.encode(e), key=codec.key(e))
            await asyncio.sleep(max(0.0, started + (i + 1) / rate - time.monotonic()))
        await producer.flush()
    finally:
        await producer.stop()


async def approve_copy(settings: CommonSettings) -> str:
    """The champion's weights registered again and approved: every replica swaps to it."""
    registry, name = registry_from(settings), settings.mlflow.model_name
    champion = registry.by_alias(name, CHAMPION)
    assert champion is not None
    copy = await asyncio.to_thread(
        registry.register,
        name,
        registry.weights(champion),
        arch=champion.arch,
        classes=champion.classes,
        tags={k: v for k, v in champion.tags.items() if "manifest" in k},
    )
    registry.set_alias(name, CHAMPION, copy.version)
    swap_id = f"bench-swap-{uuid.uuid4().hex[:6]}"
    async with make_broker(settings, client_id="bench") as broker:
        await publisher(broker)(
            ModelApproved(
                producer="bench",
                correlation_id=swap_id,
                iteration_id=swap_id,
                line_id="bench",
                model_name=name,
                version=copy.version,
                previous_version=champion.version,
                scores={},
            )
        )
    return copy.version


async def under_load(
    settings: CommonSettings, url: str, pngs: list[bytes], *, swap: bool, seconds: float = 12
) -> Load:
    feed = asyncio.create_task(kafka_feed(settings, pngs, rate=200, seconds=seconds))
    rest = asyncio.create_task(rest_clients(url, pngs[0], clients=4, seconds=seconds))
    if swap:
        await asyncio.sleep(seconds / 2)
        await approve_copy(settings)
    load = await rest
    await feed
    return load


def p99(load: Load) -> float:
    return percentile(load.latencies, 0.99)
