"""Collecting publisher and other small doubles for handler tests (unit tests only)."""

from __future__ import annotations

from typing import TypeVar

from schemas import Event

E = TypeVar("E", bound=Event)


class Published:
    """Stands in for the Kafka publisher in unit tests: keeps what was published, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]
