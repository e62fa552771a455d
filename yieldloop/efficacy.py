"""`yieldloop efficacy` (`make efficacy`): the loop on every drift of the zoo and on a line that
never drifts, with one table and one JSON in runs/efficacy-<time>/.

Each drift starts from the bootstrap's champion: its alias is moved back and the services start
afresh (the inference service serves the champion alias at start). The line warms up clean,
drifts, and is followed until its iteration ends and a while after; then the row is measured
against the simulator's truth (yieldloop.efficacy_row)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from schemas import PredictionMade, RetrainQueued, RetrainRequested
from services.common.models import registry_from
from services.common.registry import CHAMPION, ModelRegistry, ModelVersion
from services.common.settings import REPO_ROOT, load_settings
from services.common.store import LocalImageStore
from services.curator.config import CuratorSettings
from services.monitor.config import MonitorSettings
from services.trainer.config import TrainerSettings
from yieldloop import demo
from yieldloop.bootstrap_models import bootstrap_models
from yieldloop.drifts import DEFAULT_STRENGTH, DRIFTS
from yieldloop.efficacy_measure import Lab
from yieldloop.efficacy_row import measure_row
from yieldloop.efficacy_table import table
from yieldloop.fleet import Fleet
from yieldloop.produce import produce
from yieldloop.sources import demo_items
from yieldloop.watch import Watcher

Say = Callable[[str], None]


@dataclass(frozen=True)
class EfficacyPlan:
    drifts: tuple[str, ...] = tuple(DRIFTS)
    strength: float = DEFAULT_STRENGTH
    rate: float = 20.0  # parts per second on a drifting line
    warmup_s: float = 25.0
    after_s: float = 20.0
    timeout_s: float = 480.0
    quiet_predictions: int = 10_000  # on the line that never drifts
    quiet_rate: float = 40.0
    seed: int = 0


def run(settings: MonitorSettings, plan: EfficacyPlan, *, say: Say = print) -> Path:
    """Every row, then the quiet line; returns the run folder."""
    bootstrap_models(settings, say=say)
    registry = registry_from(settings)
    names = (settings.mlflow.model_name, *settings.mlflow.referee_names)
    start = {name: _champion(registry, name) for name in names}
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    run_dir = REPO_ROOT / "runs" / f"efficacy-{stamp}"
    lab = Lab(
        store=LocalImageStore(settings.store_root),
        registry=registry,
        curator=load_settings(CuratorSettings).curator,
        trainer=load_settings(TrainerSettings).trainer,
        referee_names=settings.mlflow.referee_names,
    )
    rows = []
    for kind in plan.drifts:
        _reset(registry, start)
        began = time.monotonic()
        rows.append(drift_row(settings, plan, kind, run_dir / kind, start[names[0]], lab))
        say(f"efficacy: {kind} done in {time.monotonic() - began:.0f} s: {rows[-1]['decision']}")
    _reset(registry, start)
    quiet = asyncio.run(quiet_line(settings, plan, run_dir / "no-drift"))
    say(f"efficacy: no drift: {quiet['false_triggers']} triggers in {quiet['predictions']}")
    result = {"rows": rows, "no_drift": quiet, "plan": asdict(plan), "started": stamp}
    (run_dir / "efficacy.json").write_text(json.dumps(result, indent=2) + "\n")
    (run_dir / "efficacy.md").write_text(table(result) + "\n")
    return run_dir


def drift_row(
    settings: MonitorSettings,
    plan: EfficacyPlan,
    kind: str,
    kind_dir: Path,
    base: ModelVersion,
    lab: Lab,
) -> dict[str, object]:
    line_id = f"efficacy-{kind}-{kind_dir.parent.name.removeprefix('efficacy-')}"
    demo_plan = demo.DemoPlan(
        rate=plan.rate,
        warmup_s=plan.warmup_s,
        after_s=plan.after_s,
        timeout_s=plan.timeout_s,
        seed=plan.seed,
        drift=kind,
        strength=plan.strength,
    )
    with Fleet(log_dir=kind_dir / "logs") as fleet:
        fleet.start()
        followed, switch = asyncio.run(
            demo.follow(settings, demo_plan, line_id=line_id, run_dir=kind_dir, say=_stages(kind))
        )
    demo.write_report(settings, followed, switch, line_id=line_id, run_dir=kind_dir)
    return measure_row(
        kind, plan.strength, followed.events, switch, kind_dir / "truth.csv", base, lab
    )


async def quiet_line(settings: MonitorSettings, plan: EfficacyPlan, where: Path) -> dict[str, int]:
    """A line that never drifts: how many predictions, and how many iterations it opened."""
    line_id = f"efficacy-no-drift-{where.parent.name.removeprefix('efficacy-')}"
    predictions = triggers = 0
    with Fleet(log_dir=where / "logs") as fleet:
        fleet.start()
        async with Watcher(settings, line_id=line_id) as watcher:
            feeding = asyncio.create_task(
                produce(
                    settings,
                    source=demo_items(seed=plan.seed + 1, drift_after=None),
                    line_id=line_id,
                    rate=plan.quiet_rate,
                    count=plan.quiet_predictions,
                    truth=where / "truth.csv",
                )
            )
            quiet = 0
            async for event in watcher.events():
                predictions += isinstance(event, PredictionMade)
                triggers += isinstance(event, RetrainRequested | RetrainQueued)
                quiet = quiet + 1 if event is None and feeding.done() else 0
                if quiet >= 6 or (predictions >= plan.quiet_predictions and feeding.done()):
                    break
            await feeding
    return {"predictions": predictions, "false_triggers": triggers}


def _champion(registry: ModelRegistry, name: str) -> ModelVersion:
    version = registry.by_alias(name, CHAMPION)
    if version is None:
        raise RuntimeError(f"no champion of {name!r} after bootstrap")
    return version


def _reset(registry: ModelRegistry, start: dict[str, ModelVersion]) -> None:
    """Every row starts from the same models."""
    for name, version in start.items():
        registry.set_alias(name, CHAMPION, version.version)


def _stages(kind: str) -> Say:
    """The iteration's steps as they happen; the rolling yield lines would only scroll past."""

    def say(line: str) -> None:
        if "  yield " not in line:
            print(f"[{kind}] {line}", flush=True)

    return say
