"""`yieldloop demo`: a production line drifts and the system repairs its model on its own.

Stack up, first models if the registry is empty, the five services, the line at a steady rate,
drift switched on after a warm-up, progress live, and a report in a run folder at the end."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from schemas import (
    AlertRaised,
    DatasetCurated,
    Event,
    IterationAborted,
    ModelDeployed,
    ModelRejected,
    PredictionMade,
    YieldReported,
)
from schemas.datasets import DatasetManifest
from services.common.settings import REPO_ROOT
from services.common.store import LocalImageStore, get_model
from services.monitor.config import MonitorSettings
from yieldloop import report as reporting
from yieldloop.drifts import DEFAULT_DRIFT, DEFAULT_STRENGTH, describe_drift
from yieldloop.live import Narrator
from yieldloop.produce import produce
from yieldloop.sources import DriftSwitch, demo_items
from yieldloop.watch import Watcher

ENDINGS = (ModelDeployed, ModelRejected, IterationAborted)


@dataclass(frozen=True)
class DemoPlan:
    rate: float = 20.0  # parts per second
    warmup_s: float = 25.0  # clean parts before the light drifts
    after_s: float = 20.0  # parts judged after the iteration ends, to show recovery
    timeout_s: float = 480.0  # the whole loop must finish within this after drift
    seed: int = 0
    drift: str = DEFAULT_DRIFT  # which drift of the zoo (yieldloop.drifts)
    strength: float = DEFAULT_STRENGTH


@dataclass
class Run:
    started: float = field(default_factory=time.monotonic)
    events: list[Event] = field(default_factory=list)
    ended_at: float | None = None

    def add(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, ENDINGS) and self.ended_at is None:
            self.ended_at = time.monotonic()

    def of(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.events if isinstance(e, kind)]


async def follow(
    settings: MonitorSettings,
    plan: DemoPlan,
    *,
    line_id: str,
    run_dir: Path,
    say: reporting.Say = print,
) -> tuple[Run, DriftSwitch]:
    """Feed the line, switch drift on after the warm-up, narrate, stop after recovery."""
    switch, stop, run, describe = DriftSwitch(), asyncio.Event(), Run(), Narrator()
    async with Watcher(settings, line_id=line_id) as watcher:
        feeding = asyncio.create_task(
            produce(
                settings,
                source=demo_items(
                    seed=plan.seed,
                    drift_after=None,
                    drift=switch,
                    kind=plan.drift,
                    strength=plan.strength,
                ),
                line_id=line_id,
                rate=plan.rate,
                count=None,
                truth=run_dir / "truth.csv",
                stop=stop,
            )
        )
        async for event in watcher.events():
            elapsed = time.monotonic() - run.started
            if event is not None:
                run.add(event)
                if (line := describe(event, elapsed)) is not None:
                    say(line)
            if not switch.on and elapsed >= plan.warmup_s:
                switch.switch_on()
                say(f"{elapsed:7.1f}s  DRIFT ON: {describe_drift(plan.drift, plan.strength)}")
            if finished(run, plan, elapsed) or feeding.done():
                break
        stop.set()
        await feeding
        await drain(watcher, run)
    return run, switch


def finished(run: Run, plan: DemoPlan, elapsed: float) -> bool:
    if run.ended_at is not None:
        return time.monotonic() - run.ended_at >= plan.after_s
    return elapsed >= plan.warmup_s + plan.timeout_s


async def drain(watcher: Watcher, run: Run, *, quiet_ticks: int = 4) -> None:
    """Collect the predictions still in flight for the last parts sent."""
    quiet = 0
    async for event in watcher.events():
        quiet = quiet + 1 if event is None else 0
        if event is not None:
            run.add(event)
        if quiet >= quiet_ticks:
            return


def write_report(
    settings: MonitorSettings, run: Run, switch: DriftSwitch, *, line_id: str, run_dir: Path
) -> dict[str, object]:
    store = LocalImageStore(settings.store_root)
    manifests = {
        e.manifest_uri: get_model(store, e.manifest_uri, DatasetManifest)
        for e in run.of(DatasetCurated)
        if isinstance(e, DatasetCurated)
    }
    predictions = [e for e in run.events if isinstance(e, PredictionMade)]
    threshold = settings.monitor.yield_threshold or settings.monitor.threshold_floor
    report = reporting.build_report(
        truth=run_dir / "truth.csv",
        predictions=predictions,
        pipeline=[e for e in run.events if not isinstance(e, PredictionMade | YieldReported)],
        yield_reports=[e for e in run.events if isinstance(e, YieldReported)],
        manifests=manifests,
        yield_threshold=threshold,
        drift_started_at=switch.switched_at,
        line_id=line_id,
        ok_labels=settings.monitor.ok_labels,
    )
    series = reporting.yield_series(predictions, window=settings.monitor.recent_window)
    reporting.write(run_dir, report, series)
    return report


def new_run_dir() -> tuple[str, Path]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    run_dir = REPO_ROOT / "runs" / stamp
    run_dir.mkdir(parents=True, exist_ok=True)
    return f"demo-{stamp}", run_dir


def alerts(run: Run) -> list[str]:
    return [e.summary for e in run.events if isinstance(e, AlertRaised)]
