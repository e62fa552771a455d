"""The parts of `make chaos` that fit in the test suite: faults at the narrow step boundaries,
poison among good images, and two lines at once, each on the real stack. Every row must keep the
guarantees: each iteration ends, one decision, one deployment per replica and version, no image
left unjudged, dead letters only for the poison."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.conftest import System
from yieldloop.chaos import passed
from yieldloop.chaos.play import Pace, play
from yieldloop.chaos.scenarios import CrashAt, Scenario

pytestmark = pytest.mark.e2e

SCENARIOS = [
    Scenario("poison records in a batch", poison=3),
    Scenario("kill -9 trainer after effect", CrashAt("trainer", "after_effect")),
    Scenario("kill -9 gatekeeper after publish", CrashAt("gatekeeper", "after_publish")),
    Scenario("kill -9 monitor after effect", CrashAt("monitor", "after_effect")),
    Scenario("two lines drifting at once", lines=2),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name.replace(" ", "-"))
def test_the_guarantees_hold_under_the_fault(system: System, scenario: Scenario) -> None:
    row = asyncio.run(
        play(scenario, fleet=system.fleet, settings=system.settings, pace=Pace(), seed=7)
    )

    assert row.fault_fired and row.iterations >= 1
    assert row.completed == row.iterations, row.aborted_reasons
    assert row.max_decisions_per_iteration == 1
    assert row.max_deployments_per_replica_version <= 1
    assert row.predictions_lost == 0
    assert row.dead_letters == row.poison_sent
    assert passed(row)
