"""The iteration saga, pure: every transition, a fact delivered twice at every step, an abort at
every step, and what comes after an abort or a decision."""

from __future__ import annotations

import pytest

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
from services.common.iteration import Iteration, Result, Stage, Transition, apply, fact_key
from tests.samples import one_of_each

SAMPLES = {type(e): e for e in one_of_each(producer="saga-test")}
REQUEST, CURATED, CANDIDATE = (
    SAMPLES[k] for k in (RetrainRequested, DatasetCurated, ModelCandidate)
)
APPROVED, REJECTED, DEPLOYED = (SAMPLES[k] for k in (ModelApproved, ModelRejected, ModelDeployed))
ABORTED = SAMPLES[IterationAborted]
HAPPY_PATH: list[tuple[Event, Stage]] = [
    (REQUEST, Stage.REQUESTED),
    (CURATED, Stage.CURATED),
    (CANDIDATE, Stage.TRAINED),
    (APPROVED, Stage.DECIDED),
    (DEPLOYED, Stage.DEPLOYED),
]


def walk(events: list[Event]) -> Iteration:
    it: Iteration | None = None
    for event in events:
        it = apply(it, [event], sent=True).after
    assert it is not None
    return it


def at(stage_index: int) -> Iteration:
    """The iteration after the first `stage_index + 1` facts of the happy path."""
    return walk([e for e, _ in HAPPY_PATH[: stage_index + 1]])


@pytest.mark.parametrize("step", range(len(HAPPY_PATH)))
def test_each_fact_moves_the_iteration_to_its_stage(step: int) -> None:
    event, stage = HAPPY_PATH[step]
    before = at(step - 1) if step else None

    t = apply(before, [event], sent=False)

    assert t.result is Result.RECORDED and t.after.stage is stage
    assert not t.after.facts[fact_key(event)].sent


@pytest.mark.parametrize("step", range(len(HAPPY_PATH)))
def test_a_fact_delivered_again_changes_nothing(step: int) -> None:
    event, _ = HAPPY_PATH[step]
    it = at(step)

    t = apply(it, [event], sent=True)

    assert t.result is Result.DUPLICATE and t.after == it


@pytest.mark.parametrize("step", range(3))  # requested, curated, trained
def test_an_iteration_can_be_aborted_before_its_decision(step: int) -> None:
    t = apply(at(step), [ABORTED], sent=False)

    assert t.result is Result.RECORDED and t.after.stage is Stage.ABORTED
    assert not t.after.holds_model


@pytest.mark.parametrize("step", [3, 4])  # decided, deployed
def test_a_decision_stands_against_a_late_abort(step: int) -> None:
    it = at(step)

    t = apply(it, [ABORTED], sent=False)

    assert t.result is Result.REFUSED and "decision stands" in t.reason
    assert t.after == it


@pytest.mark.parametrize("late", [CURATED, CANDIDATE, APPROVED, REJECTED, DEPLOYED])
def test_nothing_moves_an_aborted_iteration(late: Event) -> None:
    aborted = walk([REQUEST, ABORTED])

    t = apply(aborted, [late], sent=False)

    assert t.result is Result.REFUSED and "aborted" in t.reason
    assert t.after.stage is Stage.ABORTED


def test_one_decision_per_iteration() -> None:
    approved = walk([REQUEST, CURATED, CANDIDATE, APPROVED])

    t = apply(approved, [REJECTED], sent=False)

    assert t.result is Result.DUPLICATE
    assert isinstance(t.after.fact(Stage.DECIDED).event, ModelApproved)  # type: ignore[union-attr]


def test_a_rejected_iteration_has_nothing_to_deploy() -> None:
    t = apply(walk([REQUEST, CURATED, CANDIDATE, REJECTED]), [DEPLOYED], sent=False)

    assert t.result is Result.REFUSED and "rejected" in t.reason


def test_each_replica_records_its_own_deployment_once() -> None:
    other = DEPLOYED.model_copy(update={"replica_id": "r2"})
    deployed = walk([REQUEST, CURATED, CANDIDATE, APPROVED, DEPLOYED])

    second = apply(deployed, [other], sent=False)
    again = apply(second.after, [other], sent=False)

    assert second.result is Result.RECORDED and set(second.after.facts) >= {"deployed:r1"}
    assert "deployed:r2" in second.after.facts and again.result is Result.DUPLICATE


def test_the_model_is_held_from_request_until_decision() -> None:
    holding = [at(step).holds_model for step in range(len(HAPPY_PATH))]

    assert holding == [True, True, True, False, False]


def test_a_decision_and_its_alert_are_one_fact_marked_sent_together() -> None:
    alert = one_of_each()[-1]
    t: Transition = apply(at(2), [REJECTED, alert], sent=False)

    fact = t.after.fact(Stage.DECIDED)
    assert fact is not None and fact.events == (REJECTED, alert) and not fact.sent
    assert t.after.sent("decided").fact(Stage.DECIDED).sent  # type: ignore[union-attr]
    assert t.after.unsent(Stage.DECIDED) is fact


def test_a_history_seen_from_the_middle_is_adopted() -> None:
    """Rebuilt from topics that start late, or a candidate offered by hand: the first fact seen
    opens the iteration at its own stage."""
    t = apply(None, [CANDIDATE], sent=True)

    assert t.after.stage is Stage.TRAINED and t.after.iteration_id == CANDIDATE.iteration_id  # type: ignore[attr-defined]
