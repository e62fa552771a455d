"""Each iteration's story, assembled from the facts alone: trigger, curation, training, decision,
deployments, and what went wrong on the way. Pure: no Kafka, MLflow or files here."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from schemas import (
    AlertRaised,
    DatasetCurated,
    Event,
    IterationAborted,
    ModelApproved,
    ModelCandidate,
    ModelDeployed,
    ModelRejected,
    RetrainQueued,
    RetrainRequested,
    TrainingProgressed,
    YieldReported,
)
from services.common.iteration import FACTS, Iteration, Result, apply, fact_key
from yieldloop.audit import sections
from yieldloop.audit.collect import Collected

Json = dict[str, Any]


@dataclass
class Story:
    iteration_id: str
    line_id: str
    events: list[Event] = field(default_factory=list)
    saga: Iteration | None = None
    redone: list[Json] = field(default_factory=list)  # a fact recorded again under a new id
    refused: list[Json] = field(default_factory=list)  # facts the saga would not take

    def first(self, kind: type[Any]) -> Any:
        return next((e for e in self.events if isinstance(e, kind)), None)

    def all(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def opened_at(self) -> datetime:
        return self.events[0].occurred_at

    @property
    def ended_at(self) -> datetime | None:
        ends = [e.occurred_at for e in self.events if isinstance(e, sections.ENDINGS)]
        return max(ends) if ends else None


def stories(got: Collected) -> list[Story]:
    """Every iteration the facts mention, in the order they opened."""
    grouped: dict[str, Story] = {}
    for event in got.events:
        iteration_id = getattr(event, "iteration_id", None)
        if not iteration_id or isinstance(event, RetrainQueued | YieldReported):
            continue
        story = grouped.get(iteration_id)
        if story is None:
            line = getattr(event, "line_id", None) or ""
            story = grouped[iteration_id] = Story(iteration_id, line)
        story.events.append(event)
        if type(event) in FACTS:
            _apply(story, event)
    return sorted(grouped.values(), key=lambda s: s.opened_at)


def _apply(story: Story, event: Event) -> None:
    """The saga, replayed: what each fact did to the iteration's state."""
    t = apply(story.saga, [event], sent=True)
    story.saga = t.after
    if t.result is Result.DUPLICATE:
        story.redone.append(sections.brief(event, fact=fact_key(event)))
    elif t.result is Result.REFUSED:
        story.refused.append({**sections.brief(event), "reason": t.reason})


def to_json(story: Story, got: Collected, lookup: Lookup | None = None) -> Json:
    """The story as the audit reports it (`yieldloop audit --json`)."""
    lookup = lookup or Lookup.of(got.events)
    request: RetrainRequested | None = story.first(RetrainRequested)
    curated: DatasetCurated | None = story.first(DatasetCurated)
    candidate: ModelCandidate | None = story.first(ModelCandidate)
    decided = story.first(ModelApproved) or story.first(ModelRejected)
    line = got.lines.get(story.line_id)
    return {
        "iteration_id": story.iteration_id,
        "line_id": story.line_id,
        "stage": str(story.saga.stage) if story.saga else None,
        "opened_at": story.opened_at.isoformat(),
        "ended_at": story.ended_at.isoformat() if story.ended_at else None,
        "trigger": sections.trigger(request, lookup.signals(request), line),
        "queued": [sections.queued(d) for d in lookup.joined(request, curated)],
        "dataset": sections.dataset(curated, lookup.previous(curated)),
        "training": sections.training(candidate, story.all(TrainingProgressed)),
        "decision": sections.decision(decided),
        "deployments": [sections.deployment(d, line) for d in story.all(ModelDeployed)],
        "aborts": [sections.abort(a) for a in story.all(IterationAborted)],
        "alerts": [sections.alert(a) for a in story.all(AlertRaised)],
        "retries": {
            "republished": sum(got.repeats[str(e.event_id)] for e in story.events),
            "redone": story.redone,
            "refused": story.refused,
        },
        "dead_letters": [
            sections.dead_letter(d) for d in got.dead_letters if d.concerns(story.iteration_id)
        ],
        "timeline": [sections.brief(e) for e in story.events],
    }


@dataclass(frozen=True)
class Lookup:
    """What several stories look up among all the facts, indexed once."""

    reports: dict[str, list[YieldReported]]  # each line's health reports, in time order
    drops: dict[UUID, RetrainQueued]
    made: dict[str, ModelCandidate]  # the candidate that became each version

    @classmethod
    def of(cls, events: Iterable[Event]) -> Lookup:
        found = cls({}, {}, {})
        for e in events:
            if isinstance(e, YieldReported):
                found.reports.setdefault(e.line_id, []).append(e)
            elif isinstance(e, RetrainQueued):
                found.drops[e.event_id] = e
            elif isinstance(e, ModelCandidate):
                found.made[e.version] = e
        return found

    def signals(self, request: RetrainRequested | None) -> YieldReported | None:
        """The line's last health report before the trigger: the label-free signals it saw."""
        if request is None:
            return None
        reports = self.reports.get(request.line_id, [])
        i = bisect_right(reports, request.occurred_at, key=lambda r: r.occurred_at)
        return reports[i - 1] if i else None

    def joined(
        self, request: RetrainRequested | None, curated: DatasetCurated | None
    ) -> list[RetrainQueued]:
        """Drops queued while the model was held that this iteration took over."""
        ids = {*(request.joined if request else ()), *(curated.joined if curated else ())}
        return sorted((self.drops[i] for i in ids if i in self.drops), key=lambda d: d.occurred_at)

    def previous(self, curated: DatasetCurated | None) -> Json | None:
        """The dataset the base version was trained on, when an iteration in the facts made it."""
        made = self.made.get(curated.base_version or "") if curated is not None else None
        if made is None:
            return None
        return {
            "version": made.version,
            "iteration_id": made.iteration_id,
            "manifest_uri": made.manifest_uri,
            "manifest_sha256": made.manifest_sha256,
            "source": "events",
        }
