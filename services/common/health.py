"""Health of one service process: liveness, readiness checks and Prometheus metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry, Counter, Gauge

log = logging.getLogger(__name__)
Check = Callable[[], Awaitable[bool]]
LAG_EVERY_S = 5.0


class ServiceMetrics:
    """One registry per process part, so several apps in one test process never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.handled = Counter(
            "yieldloop_handled",
            "Messages handled, by handler and outcome",
            ["handler", "outcome"],
            registry=self.registry,
        )
        self.retries = Counter(
            "yieldloop_retries",
            "Transient failures retried with backoff",
            ["handler", "error"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "yieldloop_dead_letters",
            "Records sent to the dead-letter topic, by origin topic",
            ["topic"],
            registry=self.registry,
        )
        self.lag = Gauge(
            "yieldloop_consumer_lag",
            "Records not yet handled, by consumer group and topic",
            ["group", "topic"],
            registry=self.registry,
        )
        self.active_iteration = Gauge(
            "yieldloop_active_iteration",
            "1 for the stage the model's active iteration stands at, 0 for the others",
            ["stage"],
            registry=self.registry,
        )


@dataclass
class Health:
    """Readiness checks by name, and the metrics served beside them."""

    checks: dict[str, Check] = field(default_factory=dict)
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
    started_at: float = field(default_factory=time.monotonic)

    async def readiness(self) -> tuple[bool, Mapping[str, bool]]:
        results = {name: await _safely(check) for name, check in self.checks.items()}
        return all(results.values()), results


async def _safely(check: Check) -> bool:
    try:
        return await asyncio.wait_for(check(), timeout=3)
    except Exception:  # a readiness probe answers "not ready", never an error page
        return False


def broker_check(broker: KafkaBroker) -> Check:
    async def kafka() -> bool:
        return bool(await broker.ping(timeout=2))

    return kafka


async def follow_lag(broker: KafkaBroker, metrics: ServiceMetrics) -> None:
    """Every few seconds, each consumer's distance from the end of what it is assigned."""
    while True:
        await asyncio.sleep(LAG_EVERY_S)
        with contextlib.suppress(KafkaError, AssertionError, RuntimeError):
            for subscriber in broker.subscribers:
                await _measure(subscriber, metrics)


async def _measure(subscriber: object, metrics: ServiceMetrics) -> None:
    consumer = getattr(subscriber, "consumer", None)
    group = str(getattr(subscriber, "group_id", "") or "")
    if consumer is None:
        return
    behind: dict[str, int] = {}
    for tp in consumer.assignment():
        highwater = consumer.highwater(tp)
        if highwater is None:
            continue
        position = await consumer.position(tp)
        behind[tp.topic] = behind.get(tp.topic, 0) + max(highwater - position, 0)
    for topic, lag in behind.items():
        metrics.lag.labels(group, topic).set(lag)
