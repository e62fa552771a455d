"""The loop end to end on the real stack: a drifting line is repaired by the system alone, and a
bad candidate is refused with an alert while the champion keeps serving."""

from __future__ import annotations

import asyncio

import pytest

from schemas import ModelDeployed, PredictionMade, RetrainRequested
from services.common.registry import CHAMPION
from tests.e2e.conftest import System
from yieldloop.chaos.play import reset_champion
from yieldloop.demo import DemoPlan, follow

pytestmark = pytest.mark.e2e


def test_drift_is_repaired_by_exactly_one_iteration(system: System) -> None:
    name = system.settings.mlflow.model_name
    reset_champion(system.settings, system.fleet)  # the first model serves, whatever ran before
    before = system.registry.by_alias(name, CHAMPION)
    assert before is not None
    plan = DemoPlan(rate=20, warmup_s=20, after_s=12, timeout_s=420)

    run, switch = asyncio.run(
        follow(system.settings, plan, line_id="e2e-drift", run_dir=system.workdir, say=print)
    )

    [request] = [e for e in run.events if isinstance(e, RetrainRequested)]
    assert switch.switched_at is not None and request.occurred_at > switch.switched_at
    deployed = [e for e in run.events if isinstance(e, ModelDeployed)]
    assert deployed, "no model was deployed"
    new_version = deployed[0].version
    assert new_version != before.version
    champion = system.registry.by_alias(name, CHAMPION)
    assert champion is not None and champion.version == new_version
    assert system.served_model()["version"] == new_version

    window = system.settings.monitor.recent_window
    judged_by_new = [
        e for e in run.events if isinstance(e, PredictionMade) and e.model_version == new_version
    ]
    assert len(judged_by_new) >= window
    last = judged_by_new[-window:]
    recovered = sum(e.label in system.settings.monitor.ok_labels for e in last) / window
    assert recovered >= system.settings.monitor.yield_threshold
