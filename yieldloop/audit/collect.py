"""Reading what the audit needs from Kafka, fast: pipeline events whole, predictions reduced to
the few fields a yield needs, dead letters with their error and origin. A fact republished under
the same `event_id` is counted once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from schemas import DEAD_LETTER, Event, topic_for
from schemas.events import PredictionMade
from services.common.history import EVER, PIPELINE, Window, batches, event_of
from services.common.kafka import Record
from services.common.settings import CommonSettings

PREDICTIONS = topic_for(PredictionMade)
AUDITED: tuple[str, ...] = (*PIPELINE, PREDICTIONS, DEAD_LETTER)


class PredictionSeen(BaseModel):
    """The part of a PredictionMade a yield needs; the rest of the body is not even parsed
    into Python objects."""

    model_config = ConfigDict(extra="ignore")

    event_id: str
    occurred_at: str  # ISO 8601, parsed only where a time is drawn
    line_id: str
    label: str
    model_version: str


_seen = PredictionSeen.__pydantic_validator__.validate_json


@dataclass
class LinePredictions:
    """One line's predictions in the order they were judged (one partition per line)."""

    ids: list[str] = field(default_factory=list)
    times: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)

    def at(self, index: int) -> datetime:
        return datetime.fromisoformat(self.times[index])

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class DeadLetter:
    origin: str  # topic/partition/offset of the record that could not be handled
    error: str
    event_type: str
    correlation_id: str
    key: str
    at: datetime

    @classmethod
    def of(cls, record: Record) -> DeadLetter:
        headers = {k: v.decode(errors="replace") for k, v in record.headers or ()}
        return cls(
            origin=headers.get("x-origin", ""),
            error=headers.get("x-error", ""),
            event_type=headers.get("event_type", ""),
            correlation_id=headers.get("correlation_id", ""),
            key=(record.key or b"").decode(errors="replace"),
            at=datetime.fromtimestamp(record.timestamp / 1000, UTC),
        )

    def concerns(self, iteration_id: str) -> bool:
        return iteration_id in (self.correlation_id, self.key)


@dataclass
class Collected:
    events: list[Event] = field(default_factory=list)  # distinct, in the order they happened
    lines: dict[str, LinePredictions] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    records: int = 0
    repeats: Counter[str] = field(default_factory=Counter)  # event id -> copies beyond the first
    unreadable: int = 0


class Collector:
    """Takes records batch by batch (from a read of history or a live subscription)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.out = Collected()

    def add(self, records: Iterable[Record]) -> None:
        out, seen, lines = self.out, self.seen, self.out.lines
        for record in records:
            out.records += 1
            if record.topic == PREDICTIONS:  # most records: kept lean on purpose
                try:
                    p = _seen(record.value)
                except ValueError:  # poison: the dead-letter topic has it with its error
                    out.unreadable += 1
                    continue
                event_id = p.event_id
                if event_id in seen:
                    out.repeats[event_id] += 1
                    continue
                seen.add(event_id)
                line = lines.get(p.line_id)
                if line is None:
                    line = lines[p.line_id] = LinePredictions()
                line.ids.append(event_id)
                line.times.append(p.occurred_at)
                line.labels.append(p.label)
                line.versions.append(p.model_version)
            elif record.topic == DEAD_LETTER:
                out.dead_letters.append(DeadLetter.of(record))
            else:
                self._event(record)

    def _event(self, record: Record) -> None:
        event = event_of(record)
        if event is None:
            self.out.unreadable += 1
            return
        event_id = str(event.event_id)
        if event_id in self.seen:
            self.out.repeats[event_id] += 1
            return
        self.seen.add(event_id)
        self.out.events.append(event)

    def collected(self) -> Collected:
        self.out.events.sort(key=lambda e: e.occurred_at)
        return self.out


async def collect(
    settings: CommonSettings, *, window: Window = EVER, topics: Sequence[str] = AUDITED
) -> Collected:
    """Everything the audit reads, in one pass over the topics (no consumer group)."""
    collector = Collector()
    async for batch in batches(settings, topics, window=window):
        collector.add(batch)
    return collector.collected()
