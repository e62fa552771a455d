"""What a chaos scenario's lines went through, as the events arrive: when its iteration was
requested, and whether every iteration of its lines has ended."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from schemas import (
    DatasetCurated,
    Event,
    IterationAborted,
    ModelDeployed,
    ModelRejected,
    RetrainQueued,
    RetrainRequested,
)

E = TypeVar("E", bound=Event)


@dataclass
class Timeline:
    replica: str
    events: list[Event] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, event: Event) -> None:
        self.events.append(event)
        self.changed.set()

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    async def first(self, kind: type[E]) -> Event:
        return await self.wait_for(lambda: next(iter(self.of(kind)), None))

    async def wait_for(self, found: Callable[[], Event | None]) -> Event:
        while (event := found()) is None:
            self.changed.clear()
            await self.changed.wait()
        return event

    def asked(self, line: str) -> Event | None:
        """The line's first request for an iteration, or its drop queued behind another's."""
        kinds = (RetrainRequested, RetrainQueued)
        return next((e for e in self.events if isinstance(e, kinds) and e.line_id == line), None)

    def iterations(self) -> set[str]:
        return {e.iteration_id for e in self.of(RetrainRequested)}

    def ended(self) -> set[str]:
        """Iterations refused, aborted, or deployed on the replica."""
        refused = {e.iteration_id for e in self.of(ModelRejected)}
        aborted = {e.iteration_id for e in self.of(IterationAborted)}
        deployed = {e.iteration_id for e in self.of(ModelDeployed) if e.replica_id == self.replica}
        return {i for i in refused | aborted | deployed if i}

    def settled(self) -> bool:
        """Every iteration of the lines ended, and every queued drop was taken over by one."""
        iterations = self.iterations()
        if not iterations or not iterations <= self.ended():
            return False
        taken = {d for e in self.of(DatasetCurated) for d in e.joined}
        taken |= {d for e in self.of(RetrainRequested) for d in e.joined}
        return all(q.event_id in taken for q in self.of(RetrainQueued))
