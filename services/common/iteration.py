"""One retrain iteration as a saga: its states, the facts that move it, and what a stage may do.

requested -> curated -> trained -> decided -> deployed, or aborted before a decision. Every fact
is recorded once per iteration under its key; a stage's own facts are its outbox (recorded before
they are published, marked sent after). Pure rules: no Redis, Kafka or MLflow here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from schemas import (
    DatasetCurated,
    Event,
    IterationAborted,
    ModelApproved,
    ModelCandidate,
    ModelDeployed,
    ModelRejected,
    RetrainRequested,
)


class Stage(StrEnum):
    REQUESTED = "requested"
    CURATED = "curated"
    TRAINED = "trained"
    DECIDED = "decided"
    DEPLOYED = "deployed"
    ABORTED = "aborted"


_ORDER = MappingProxyType(
    {Stage.REQUESTED: 1, Stage.CURATED: 2, Stage.TRAINED: 3, Stage.DECIDED: 4, Stage.DEPLOYED: 5}
)
# While an iteration is in one of these it holds the model: no other iteration may start.
HOLDS_MODEL = frozenset({Stage.REQUESTED, Stage.CURATED, Stage.TRAINED})
_STAGE_OF: Mapping[type[Event], Stage] = MappingProxyType(
    {
        RetrainRequested: Stage.REQUESTED,
        DatasetCurated: Stage.CURATED,
        ModelCandidate: Stage.TRAINED,
        ModelApproved: Stage.DECIDED,
        ModelRejected: Stage.DECIDED,
        ModelDeployed: Stage.DEPLOYED,
        IterationAborted: Stage.ABORTED,
    }
)


FACTS = frozenset(_STAGE_OF)


class Result(StrEnum):
    RECORDED = "recorded"  # a new fact: the iteration may have moved on
    DUPLICATE = "duplicate"  # this fact was recorded before: nothing changes
    REFUSED = "refused"  # the fact comes too late or after an abort: nothing changes


def stage_of(event: Event) -> Stage:
    try:
        return _STAGE_OF[type(event)]
    except KeyError:
        raise ValueError(f"{event.event_type} is not a fact of an iteration") from None


def fact_key(event: Event) -> str:
    """Where a fact is recorded: one decision, one abort... and one deployment per replica."""
    stage = stage_of(event)
    if isinstance(event, ModelDeployed):
        return f"{stage}:{event.replica_id}"
    return str(stage)


@dataclass(frozen=True)
class Fact:
    """What a stage recorded: the events it publishes (a decision and its alert go together)."""

    events: tuple[Event, ...]
    sent: bool

    @property
    def event(self) -> Event:
        return self.events[0]


@dataclass(frozen=True)
class Iteration:
    iteration_id: str
    line_id: str
    stage: Stage
    opened_at: datetime
    facts: Mapping[str, Fact] = field(default_factory=dict)

    @property
    def holds_model(self) -> bool:
        return self.stage in HOLDS_MODEL

    @property
    def approved(self) -> bool | None:
        decision = self.facts.get(Stage.DECIDED)
        return None if decision is None else isinstance(decision.event, ModelApproved)

    def fact(self, stage: Stage) -> Fact | None:
        return self.facts.get(str(stage))

    def unsent(self, *stages: Stage) -> Fact | None:
        """The first of these stages' facts that was recorded but not yet published."""
        for stage in stages:
            fact = self.fact(stage)
            if fact is not None and not fact.sent:
                return fact
        return None

    def sent(self, key: str) -> Iteration:
        fact = self.facts[key]
        return replace(self, facts={**self.facts, key: replace(fact, sent=True)})


@dataclass(frozen=True)
class Transition:
    before: Iteration | None
    after: Iteration
    result: Result
    reason: str = ""

    @property
    def changed(self) -> bool:
        return self.result is Result.RECORDED


def apply(current: Iteration | None, events: Sequence[Event], *, sent: bool) -> Transition:
    """Record one fact (the first event; any others are published with it)."""
    first = events[0]
    stage, key = stage_of(first), fact_key(first)
    fact = Fact(tuple(events), sent)
    if current is None:
        return Transition(None, _opened(first, stage, key, fact), Result.RECORDED)
    if key in current.facts:
        return Transition(current, current, Result.DUPLICATE)
    refusal = _refusal(current, stage, first)
    if refusal:
        return Transition(current, current, Result.REFUSED, refusal)
    moved = _ORDER.get(stage, 0) > _ORDER.get(current.stage, 0) or stage is Stage.ABORTED
    after = replace(
        current,
        stage=stage if moved else current.stage,
        facts={**current.facts, key: fact},
    )
    return Transition(current, after, Result.RECORDED)


def _opened(first: Event, stage: Stage, key: str, fact: Fact) -> Iteration:
    """An iteration first seen through this fact: usually its request, or a later fact when the
    state is rebuilt from a partial history."""
    iteration_id = getattr(first, "iteration_id", None)
    if not iteration_id:
        raise ValueError(f"{first.event_type} {first.event_id} belongs to no iteration")
    line_id = getattr(first, "line_id", None) or ""
    return Iteration(iteration_id, line_id, stage, first.occurred_at, {key: fact})


def _refusal(current: Iteration, stage: Stage, event: Event) -> str:
    if current.stage is Stage.ABORTED:
        aborted = current.fact(Stage.ABORTED)
        why = (
            aborted.event.reason if aborted and isinstance(aborted.event, IterationAborted) else ""
        )
        return f"iteration {current.iteration_id} was aborted: {why}"
    if stage is Stage.ABORTED and current.stage in (Stage.DECIDED, Stage.DEPLOYED):
        return f"iteration {current.iteration_id} is {current.stage}: its decision stands"
    if stage is Stage.DEPLOYED and current.approved is False:
        return f"iteration {current.iteration_id} was rejected: nothing to deploy"
    return ""


def may_start(current: Iteration | None, needed: Stage) -> bool:
    """A stage acts only on an iteration standing exactly where it expects it."""
    return current is not None and current.stage is needed
