"""One scenario's row, counted from what the topics hold (not from what the services say).

A fact republished after a crash keeps its `event_id`; readers count it once. The row also says
how many records were such repeats, so nothing is hidden."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from schemas import (
    DEAD_LETTER,
    Event,
    ImageSubmitted,
    IterationAborted,
    ModelApproved,
    ModelDeployed,
    ModelRejected,
    PredictionMade,
    RetrainRequested,
    decode_any,
    topic_for,
)
from schemas.codec import UnknownEventType
from services.common.history import PIPELINE, read_records
from services.common.history import Window as Span
from services.common.kafka import Record
from services.common.settings import CommonSettings

STREAMS = (topic_for(ImageSubmitted), topic_for(PredictionMade))
TOPICS = (*PIPELINE, *STREAMS, DEAD_LETTER)
SKEW = timedelta(seconds=1)  # slack for the producers' clocks against the window's start


@dataclass(frozen=True)
class Row:
    scenario: str
    runs: int
    completed: int
    aborted: int
    max_decisions_per_iteration: int
    max_deployments_per_replica_version: int
    predictions_lost: int
    dead_letters: int
    poison_sent: int
    fault_fired: bool
    repeated_records: int
    iterations: int
    aborted_reasons: list[str]

    def ok(self, *, may_abort: bool = False) -> bool:
        ended = self.completed + (self.aborted if may_abort else 0)
        return (
            self.iterations >= 1
            and ended == self.iterations
            and self.max_decisions_per_iteration <= 1
            and self.max_deployments_per_replica_version <= 1
            and self.predictions_lost == 0
            and self.dead_letters == self.poison_sent
            and self.fault_fired
        )

    def as_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Window:
    lines: Collection[str]
    started: datetime


async def records(settings: CommonSettings, window: Window) -> list[Record]:
    """The records from the window's start on, found by offsets-for-times: the topics keep
    every earlier scenario too, and reading them all again grows with each one."""
    return await read_records(settings, TOPICS, window=Span(since=window.started - SKEW))


def tally(name: str, window: Window, found: list[Record], *, poison_sent: int, fired: bool) -> Row:
    events, repeats = facts_of(found, window)
    requests = [e for e in events if isinstance(e, RetrainRequested)]
    iterations = {e.iteration_id for e in requests}
    decided = _ids_by(events, (ModelApproved, ModelRejected), lambda e: e.iteration_id)
    deployed = _ids_by(events, (ModelDeployed,), lambda e: (e.replica_id, e.version))
    aborted = {e.iteration_id: e.reason for e in events if isinstance(e, IterationAborted)}
    approved = {e.iteration_id for e in events if isinstance(e, ModelApproved)}
    deployed_its = {e.iteration_id for e in events if isinstance(e, ModelDeployed)}
    rejected = {e.iteration_id for e in events if isinstance(e, ModelRejected)}
    completed = {i for i in iterations if i in rejected or (i in approved and i in deployed_its)}
    return Row(
        scenario=name,
        runs=1,
        completed=len(completed),
        aborted=len(iterations & aborted.keys()),
        max_decisions_per_iteration=max((len(decided[i]) for i in iterations), default=0),
        max_deployments_per_replica_version=max(map(len, deployed.values()), default=0),
        predictions_lost=unjudged(events),
        dead_letters=_dead_letters(found, window),
        poison_sent=poison_sent,
        fault_fired=fired,
        repeated_records=repeats,
        iterations=len(iterations),
        aborted_reasons=[aborted[i] for i in sorted(iterations & aborted.keys())],
    )


def facts_of(found: list[Record], window: Window) -> tuple[list[Event], int]:
    """The window's events of these lines (and of their iterations), each fact once."""
    by_id: dict[object, Event] = {}
    seen = 0
    started_ms = (window.started - SKEW).timestamp() * 1000
    needles = [f'"line_id":"{line}"'.encode() for line in window.lines]
    for record in found:
        if record.topic == DEAD_LETTER or record.timestamp < started_ms:
            continue
        if record.topic in STREAMS and not any(n in record.value for n in needles):
            continue  # another line's image or prediction: not worth decoding
        try:
            event = decode_any(record.value)
        except (UnknownEventType, ValueError):
            continue
        if event.occurred_at < window.started or not _ours(event, window):
            continue
        seen += 1
        by_id.setdefault(event.event_id, event)
    return list(by_id.values()), seen - len(by_id)


def _ours(event: Event, window: Window) -> bool:
    line = getattr(event, "line_id", None)
    return line is None or line in window.lines


def _ids_by(events: list[Event], kinds: tuple[type[Event], ...], key: object) -> dict:  # type: ignore[type-arg]
    grouped: defaultdict[object, set[object]] = defaultdict(set)
    for event in events:
        if isinstance(event, kinds):
            grouped[key(event)].add(event.event_id)  # type: ignore[operator]
    return grouped


def unjudged(events: list[Event]) -> int:
    """Images of the lines without exactly one prediction (a repeat keeps its id)."""
    submitted = {e.event_id for e in events if isinstance(e, ImageSubmitted)}
    predicted: defaultdict[object, set[object]] = defaultdict(set)
    for e in events:
        if isinstance(e, PredictionMade) and e.causation_id is not None:
            predicted[e.causation_id].add(e.event_id)
    return sum(len(predicted[i]) != 1 for i in submitted)


def _dead_letters(found: list[Record], window: Window) -> int:
    """Distinct records dead-lettered in the window (a record dead-lettered twice counts once)."""
    started_ms = window.started.timestamp() * 1000
    origins = set()
    for record in found:
        if record.topic == DEAD_LETTER and record.timestamp >= started_ms:
            headers = {k: v.decode(errors="replace") for k, v in record.headers or ()}
            origins.add(headers.get("x-origin", f"{record.partition}/{record.offset}"))
    return len(origins)
