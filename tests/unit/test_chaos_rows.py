"""The chaos table's rules: a row passes only when every guarantee holds, and rounds of one
scenario merge into one row that keeps the worst of each figure."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from yieldloop import chaos
from yieldloop.chaos import merge, passed, rounds_of
from yieldloop.chaos.measure import Row
from yieldloop.chaos.play import Pace
from yieldloop.chaos.scenarios import catalog

GOOD = Row(
    scenario="kill -9 trainer at random",
    runs=1,
    completed=1,
    aborted=0,
    max_decisions_per_iteration=1,
    max_deployments_per_replica_version=1,
    predictions_lost=0,
    dead_letters=0,
    poison_sent=0,
    fault_fired=True,
    repeated_records=0,
    iterations=1,
    aborted_reasons=[],
)


def test_a_row_passes_only_when_every_guarantee_holds() -> None:
    assert passed(GOOD)
    assert not passed(replace(GOOD, max_decisions_per_iteration=2))
    assert not passed(replace(GOOD, max_deployments_per_replica_version=2))
    assert not passed(replace(GOOD, predictions_lost=1))
    assert not passed(replace(GOOD, dead_letters=1))  # a dead letter that was not poison
    assert not passed(replace(GOOD, fault_fired=False))  # the fault never struck
    assert not passed(replace(GOOD, completed=0, aborted=1, aborted_reasons=["timed out"]))


def test_an_outage_may_end_in_an_abort_with_its_reason() -> None:
    outage = replace(GOOD, scenario="mlflow stopped for 20 s", completed=0, aborted=1)
    assert passed(outage)


def test_rounds_merge_into_one_row_with_the_worst_figures() -> None:
    worse = replace(GOOD, max_decisions_per_iteration=2, repeated_records=3)

    [row] = merge([GOOD, worse, GOOD])

    assert row.runs == 3 and row.completed == 3 and row.iterations == 3
    assert row.max_decisions_per_iteration == 2 and row.repeated_records == 3
    assert not passed(row)


def test_the_full_run_repeats_only_the_random_kills() -> None:
    scenarios = catalog()
    random_kills = [s for s in scenarios if s.random_kill]

    full = rounds_of(scenarios, 3)

    assert len(random_kills) == 5
    assert len(full) == len(scenarios) + 2 * len(random_kills)


def test_a_fault_whose_moment_never_came_is_played_again_and_every_attempt_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refused = replace(GOOD, fault_fired=False, max_deployments_per_replica_version=0)
    played = iter([refused, refused, GOOD])

    async def play(*args: object, **kwargs: object) -> Row:
        return next(played)

    monkeypatch.setattr(chaos, "play", play)
    [row] = asyncio.run(chaos.run_all(None, None, catalog()[:1], Pace(), lambda _: None))  # type: ignore[arg-type]
    assert row.fault_fired and row.runs == 3 and row.iterations == 3 and passed(row)

    played = iter([refused] * chaos.UNFIRED_ATTEMPTS)
    [row] = asyncio.run(chaos.run_all(None, None, catalog()[:1], Pace(), lambda _: None))  # type: ignore[arg-type]
    assert not row.fault_fired and row.runs == chaos.UNFIRED_ATTEMPTS and not passed(row)
