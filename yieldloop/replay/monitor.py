"""The monitor run again over the recorded stream: the same handlers and pure policy, with
in-memory adapters, fed the predictions and the other services' facts in the order they were
recorded, its clock the records' clock. Its outcome is compared with what the monitor decided
then; with other policy settings it answers "what if".

Facts the monitor derives itself (requests, queued drops, timeouts) are not fed: those are what
the replay must find on its own."""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from schemas import (
    DatasetCurated,
    Event,
    IterationAborted,
    ModelDeployed,
    ModelRejected,
    PredictionMade,
    RetrainQueued,
    RetrainRequested,
    topic_for,
)
from services.common.coordination import InMemoryCoordination
from services.common.history import event_of
from services.common.iteration import FACTS
from services.common.kafka import Record
from services.common.ledger import InMemoryLedger
from services.common.registry import InMemoryRegistry
from services.common.service import Runtime
from services.common.store import InMemoryImageStore
from services.common.tracking import InMemoryTracking
from services.monitor import handlers
from services.monitor.bootstrap import Monitor, bootstrap
from services.monitor.config import MonitorSettings

FOLLOWED = frozenset(
    topic_for(kind) for kind in (PredictionMade, ModelDeployed, ModelRejected, IterationAborted)
)
DERIVED = (RetrainRequested, RetrainQueued, IterationAborted)  # when the monitor made them


@dataclass
class Outcome:
    """What the replayed monitor would have published (it is its publisher) and dead-lettered."""

    published: list[Event] = field(default_factory=list)
    dead_letters: list[tuple[Record, BaseException]] = field(default_factory=list)

    async def __call__(self, event: Event) -> None:
        self.published.append(event)

    async def all(self, events: Sequence[Event]) -> None:
        self.published.extend(events)

    async def sent(self, events: Sequence[Event]) -> Awaitable[None]:
        await self.all(events)
        return asyncio.sleep(0)

    async def dead_letter(self, record: Record, exc: BaseException) -> None:
        self.dead_letters.append((record, exc))


EPOCH = datetime.fromtimestamp(0, UTC)


@dataclass
class Clock:
    at: datetime = EPOCH

    def now(self) -> datetime:
        return self.at


def in_memory_monitor(settings: MonitorSettings, outcome: Outcome) -> Monitor:
    """The monitor with nothing real behind it: no Redis, no Kafka, no MLflow."""
    return bootstrap(
        dead_letter=outcome.dead_letter,
        settings=settings,
        publish=outcome,
        store=InMemoryImageStore(),
        registry=InMemoryRegistry(),
        tracking=InMemoryTracking(),
        coordination=InMemoryCoordination(),
        ledger=InMemoryLedger(),
        runtime=Runtime("monitor-replay", backoff=settings.retry),
    )


def recorded_order(records: Iterable[Record]) -> list[Record]:
    """All records by time, each partition's in its own offset order (as the monitor read them)."""
    parts: dict[tuple[str, int], list[Record]] = {}
    for r in records:
        parts.setdefault((r.topic, r.partition), []).append(r)
    ordered = (sorted(p, key=lambda r: r.offset) for p in parts.values())
    return list(heapq.merge(*ordered, key=lambda r: r.timestamp))


async def run_monitor(settings: MonitorSettings, records: Sequence[Record]) -> Outcome:
    outcome, clock = Outcome(), Clock()
    m = in_memory_monitor(settings, outcome)
    m.clock = clock.now
    await handlers.restore(m)
    feed = Feed(m, clock, tick=timedelta(seconds=settings.monitor.tick_s))
    for record in recorded_order(records):
        await feed.take(record)
    await feed.flush()
    await handlers.tick(m)
    return outcome


@dataclass
class Feed:
    """Records go to the monitor in batches; other services' facts go to its ledger first, as
    they reached the live ledger before they were published; the timer ticks on record time."""

    m: Monitor
    clock: Clock
    tick: timedelta
    pending: list[Record] = field(default_factory=list)
    next_tick: datetime | None = None

    async def take(self, record: Record) -> None:
        at = datetime.fromtimestamp(record.timestamp / 1000, UTC)
        if self.next_tick is not None and at >= self.next_tick:
            await self.flush()
            self.clock.at = max(self.clock.at, at)
            await handlers.tick(self.m)
        if self.next_tick is None or at >= self.next_tick:
            self.next_tick = at + self.tick
        fact = _fact(record)
        if fact is not None:
            await self.flush()
            self.clock.at = max(self.clock.at, at)
            await self.m.ledger.record([fact], sent=True)
            if isinstance(fact, DatasetCurated):  # it took the drops queued meanwhile
                await self.m.ledger.claim(fact.iteration_id)
        if record.topic in FOLLOWED:
            self.pending.append(record)
            self.clock.at = max(self.clock.at, at)
            if len(self.pending) >= self.m.config.batch_max:
                await self.flush()

    async def flush(self) -> None:
        if self.pending:
            batch, self.pending = self.pending, []
            await handlers.records_arrived(batch, self.m)


def _fact(record: Record) -> Event | None:
    """A fact of another service for the ledger; None for everything else."""
    if record.topic == topic_for(PredictionMade):
        return None
    event = event_of(record)
    if event is None or type(event) not in FACTS or not getattr(event, "iteration_id", None):
        return None
    if isinstance(event, DERIVED) and event.producer == handlers.PRODUCER:
        return None
    return event
