"""The demo's end report: how the loop saw the drift, retrained and recovered, from its events."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from schemas import (
    AlertRaised,
    DatasetCurated,
    Event,
    IterationAborted,
    ModelApproved,
    ModelCandidate,
    ModelDeployed,
    ModelRejected,
    PredictionMade,
    RetrainRequested,
    YieldReported,
)
from schemas.datasets import DatasetManifest
from yieldloop.produce import Say as Say  # re-exported: callers narrate with the same type
from yieldloop.report_plot import markers_of, plot
from yieldloop.report_table import summary_table as summary_table  # re-exported
from yieldloop.truth import TruthRow, read_truth

E = TypeVar("E", bound=Event)
Judged = tuple[PredictionMade, TruthRow]
DECISIONS = {ModelApproved: "approved", ModelRejected: "rejected", IterationAborted: "aborted"}


@dataclass(frozen=True)
class Iteration:
    """One retrain iteration's events, in time order."""

    iteration_id: str
    events: list[Event]

    def first(self, kind: type[E]) -> E | None:
        return next((e for e in self.events if isinstance(e, kind)), None)

    @property
    def started_at(self) -> datetime:
        return self.events[0].occurred_at

    @property
    def decision(self) -> str:
        decided = [DECISIONS[type(e)] for e in self.events if type(e) in DECISIONS]
        return decided[-1] if decided else "none"

    def story(self) -> dict[str, object]:
        stages = [
            {"event": e.event_type, "at": e.occurred_at.isoformat(), "detail": _detail(e)}
            for e in self.events
        ]
        return {"iteration_id": self.iteration_id, "decision": self.decision, "stages": stages}


def _detail(event: Event) -> str:
    match event:
        case RetrainRequested():
            return f"{event.reason} (champion v{event.champion_version})"
        case DatasetCurated():
            return f"selected {event.selected} of {event.considered}"
        case ModelCandidate() | ModelApproved():
            return f"version {event.version}"
        case ModelRejected():
            return "; ".join(event.reasons)
        case ModelDeployed():
            return f"version {event.version} on {event.replica_id}"
        case IterationAborted():
            return f"{event.stage}: {event.reason}"
        case AlertRaised():
            return f"{event.severity}: {event.summary}"
    return ""


def iterations_of(pipeline: Iterable[Event], line_id: str) -> list[Iteration]:
    """The line's iterations, ordered by start; events without an iteration are left out."""
    grouped: dict[str, list[Event]] = {}
    for event in sorted(pipeline, key=lambda e: e.occurred_at):
        if (iteration_id := getattr(event, "iteration_id", None)) is not None:
            grouped.setdefault(iteration_id, []).append(event)
    mine = [
        Iteration(i, events)
        for i, events in grouped.items()
        if any(getattr(e, "line_id", None) == line_id for e in events)
    ]
    return sorted(mine, key=lambda it: it.started_at)


def _key_iteration(iterations: list[Iteration], drift_at: datetime | None) -> Iteration | None:
    """The first iteration since the drift that deployed a model, else the first one decided,
    else the latest one (still running)."""
    since = [it for it in iterations if drift_at is None or it.started_at >= drift_at]
    deployed = [it for it in since if it.first(ModelDeployed) is not None]
    decided = [it for it in since if it.decision != "none"]
    if deployed or decided:
        return (deployed or decided)[0]
    return since[-1] if since else None


def _join(predictions: Sequence[PredictionMade], truth: list[TruthRow]) -> list[Judged]:
    """Predictions with the truth of their item, found by item id, else by image hash."""
    by_item = {row.item_id: row for row in truth}
    by_hash = {row.sha256: row for row in truth}
    found = ((p, by_item.get(p.item_id) or by_hash.get(p.image.sha256)) for p in predictions)
    return [(p, row) for p, row in found if row is not None and row.label is not None]


def _share(hits: list[bool]) -> tuple[float | None, int]:
    """The share of hits and how many cases it rests on; None when there is no case."""
    return (sum(hits) / len(hits) if hits else None), len(hits)


def _accuracy(judged: Iterable[Judged]) -> tuple[float | None, int]:
    return _share([p.label == row.label for p, row in judged])


def _precision(
    curated: DatasetCurated | None, manifests: Mapping[str, DatasetManifest], truth: list[TruthRow]
) -> tuple[float | None, int]:
    """Share of the iteration's new pseudo-labels that match the truth of their image."""
    manifest = manifests.get(curated.manifest_uri) if curated is not None else None
    if curated is None or manifest is None:
        return None, 0
    labels = {row.sha256: row.label for row in truth if row.label is not None}
    source = f"iteration:{curated.iteration_id}"
    return _share(
        [
            labels[e.sha256] == e.label
            for e in manifest.entries
            if e.source == source and e.sha256 in labels
        ]
    )


def _versions(predictions: Sequence[PredictionMade]) -> list[dict[str, object]]:
    spans: dict[str, list[PredictionMade]] = {}
    for p in predictions:
        spans.setdefault(p.model_version, []).append(p)
    return [
        {
            "version": v,
            "predictions": len(ps),
            "first_at": _iso(ps[0].occurred_at),
            "last_at": _iso(ps[-1].occurred_at),
        }
        for v, ps in spans.items()
    ]


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def build_report(
    *,
    truth: Path,
    predictions: Sequence[PredictionMade],
    pipeline: Sequence[Event],
    yield_reports: Sequence[YieldReported],
    manifests: Mapping[str, DatasetManifest],
    yield_threshold: float,
    drift_started_at: datetime | None,
    line_id: str,
    ok_labels: Collection[str] = ("OK",),
) -> dict[str, object]:
    """Every figure of the run; one that cannot be computed from the events is None."""
    rows = read_truth(truth)
    mine = sorted((p for p in predictions if p.line_id == line_id), key=lambda p: p.occurred_at)
    iterations = iterations_of(pipeline, line_id)
    key = _key_iteration(iterations, drift_started_at)
    trigger = next(
        (
            it.first(RetrainRequested)
            for it in iterations
            if drift_started_at is None or it.started_at >= drift_started_at
        ),
        None,
    )
    deployed = key.first(ModelDeployed) if key is not None else None
    curated = key.first(DatasetCurated) if key is not None else None
    reports = [r for r in yield_reports if r.line_id == line_id]
    return {
        "line_id": line_id,
        "yield_threshold": yield_threshold,
        "drift_started_at": _iso(drift_started_at),
        "retrain_requested_at": _iso(trigger.occurred_at if trigger else None),
        "champion_serving_at": _iso(deployed.loaded_at if deployed else None),
        "seconds_drift_to_serving": (deployed.loaded_at - drift_started_at).total_seconds()
        if deployed and drift_started_at
        else None,
        "champion_before": trigger.champion_version if trigger else None,
        "champion_after": deployed.version if deployed else None,
        "selected_samples": curated.selected if curated else None,
        "decision": key.decision if key is not None else "none",
        **_accuracies(_join(mine, rows), deployed.version if deployed else None),
        **_figures("pseudo_label_precision", _precision(curated, manifests, rows)),
        "yield_after_recovery": _share(
            [p.label in ok_labels for p in mine if deployed and p.model_version == deployed.version]
        )[0],
        "lowest_reported_yield": min((r.yield_rate for r in reports), default=None),
        "yield_reports": len(reports),
        "predictions": len(mine),
        "model_versions": _versions(mine),
        "iterations": [it.story() for it in iterations],
    }


def _figures(name: str, figure: tuple[float | None, int]) -> dict[str, object]:
    """A share under its name, and beside it how many cases it rests on."""
    return {name: figure[0], f"{name}_n": figure[1]}


def _accuracies(judged: list[Judged], new_version: str | None) -> dict[str, object]:
    """Before drift: any served model; under drift: the old model; after: the new one."""
    clean = [(p, r) for p, r in judged if not r.drifted]
    old = [(p, r) for p, r in judged if r.drifted and p.model_version != new_version]
    new = [(p, r) for p, r in judged if r.drifted and p.model_version == new_version]
    return {
        **_figures("accuracy_before_drift", _accuracy(clean)),
        **_figures("accuracy_under_drift", _accuracy(old)),
        **_figures("accuracy_after_recovery", _accuracy(new)),
    }


def yield_series(
    predictions: Iterable[PredictionMade], *, window: int, ok_labels: Collection[str] = ("OK",)
) -> list[tuple[datetime, float]]:
    """Rolling yield over each full window of consecutive predictions, by time."""
    ordered = sorted(predictions, key=lambda p: p.occurred_at)
    ok = [p.label in ok_labels for p in ordered]
    return [
        (ordered[end - 1].occurred_at, sum(ok[end - window : end]) / window)
        for end in range(window, len(ordered) + 1)
    ]


def write(
    run_dir: Path, report: Mapping[str, object], series: Sequence[tuple[datetime, float]]
) -> tuple[Path, Path]:
    """`report.json` and `report.png` in `run_dir`."""
    run_dir.mkdir(parents=True, exist_ok=True)
    data = run_dir / "report.json"
    data.write_text(json.dumps(report, indent=2) + "\n")
    png = run_dir / "report.png"
    plot(report, series, path=png, markers=markers_of(report))
    return data, png
