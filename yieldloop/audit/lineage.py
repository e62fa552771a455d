"""Each iteration's story, assembled from the facts alone: trigger, curation, training, decision,
deployments, and what went wrong on the way. Pure: no Kafka, MLflow or files here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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


def to_json(story: Story, got: Collected) -> Json:
    """The story as the audit reports it (`yieldloop audit --json`)."""
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
        "trigger": sections.trigger(request, _signals(got.events, request), line),
        "queued": [sections.queued(d) for d in _joined(got.events, request, curated)],
        "dataset": sections.dataset(curated, _previous(got.events, curated)),
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


def _signals(events: Iterable[Event], request: RetrainRequested | None) -> YieldReported | None:
    """The line's last health report before the trigger: the label-free signals it saw."""
    if request is None:
        return None
    last = None
    for e in events:
        if e.occurred_at > request.occurred_at:
            break
        if isinstance(e, YieldReported) and e.line_id == request.line_id:
            last = e
    return last


def _joined(
    events: Iterable[Event], request: RetrainRequested | None, curated: DatasetCurated | None
) -> list[RetrainQueued]:
    """Drops queued while the model was held that this iteration took over."""
    ids = {*(request.joined if request else ()), *(curated.joined if curated else ())}
    return [e for e in events if isinstance(e, RetrainQueued) and e.event_id in ids]


def _previous(events: Iterable[Event], curated: DatasetCurated | None) -> Json | None:
    """The dataset the base version was trained on, when an iteration in the facts made it."""
    if curated is None or curated.base_version is None:
        return None
    made = [
        e for e in events if isinstance(e, ModelCandidate) and e.version == curated.base_version
    ]
    if not made:
        return None
    return {
        "version": curated.base_version,
        "iteration_id": made[-1].iteration_id,
        "manifest_uri": made[-1].manifest_uri,
        "manifest_sha256": made[-1].manifest_sha256,
        "source": "events",
    }
