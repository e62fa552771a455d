"""The demo's end report: how the loop saw the drift, retrained and recovered, from its events."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

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
from yieldloop.produce import TruthRow, read_truth

if TYPE_CHECKING:
    from matplotlib.axes import Axes

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


def markers_of(report: Mapping[str, object]) -> dict[str, datetime | None]:
    """The moments the plot marks, read back from the report's ISO strings."""
    names = {
        "drift onset": "drift_started_at",
        "retrain requested": "retrain_requested_at",
        "new champion serving": "champion_serving_at",
    }
    return {label: _when(report.get(key)) for label, key in names.items()}


def _when(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


MARKER_COLOURS = {
    "drift onset": "tab:orange",
    "retrain requested": "tab:purple",
    "new champion serving": "tab:green",
}
SHADES = ("#dce6f2", "#e3f1df", "#f6e6d8", "#ece0f0")
Span = tuple[str, datetime, datetime]


def plot(
    report: Mapping[str, object],
    series: Sequence[tuple[datetime, float]],
    *,
    path: Path,
    markers: Mapping[str, datetime | None],
) -> Path:
    """Yield over time with the threshold, the loop's moments and which model served when."""
    from matplotlib.figure import Figure  # no pyplot: no global state, Agg canvas for PNG

    spans = _spans(report)
    moments = [at for at, _ in series[:1]] + [at for at in markers.values() if at is not None]
    t0 = min(moments + [start for _, start, _ in spans], default=None)
    fig = Figure(figsize=(12, 5.5), layout="constrained")
    ax = fig.subplots()
    if t0 is None:
        ax.text(0.5, 0.5, "no predictions", ha="center", transform=ax.transAxes)
    else:
        _draw(ax, report, series, markers, spans, lambda at: (at - t0).total_seconds())
    ax.set(
        ylim=(0, 1.1),
        xlabel="seconds since the run started",
        ylabel="yield (share of parts judged OK)",
    )
    ax.set_title(_title(report), loc="left")
    ax.grid(alpha=0.3)
    fig.savefig(path, dpi=110)
    return path


def _spans(report: Mapping[str, object]) -> list[Span]:
    versions = report.get("model_versions")
    return (
        [
            (
                str(v["version"]),
                datetime.fromisoformat(v["first_at"]),
                datetime.fromisoformat(v["last_at"]),
            )
            for v in versions or []
        ]
        if isinstance(versions, list)
        else []
    )


def _draw(
    ax: Axes,
    report: Mapping[str, object],
    series: Sequence[tuple[datetime, float]],
    markers: Mapping[str, datetime | None],
    spans: list[Span],
    secs: Callable[[datetime], float],
) -> None:
    for i, (version, start, end) in enumerate(spans):
        ax.axvspan(
            secs(start),
            secs(end),
            color=SHADES[i % len(SHADES)],
            lw=0,
            label=f"model v{version} serving",
        )
    ax.plot(
        [secs(at) for at, _ in series],
        [y for _, y in series],
        color="tab:blue",
        lw=1.8,
        label="rolling yield",
    )
    threshold = report.get("yield_threshold")
    if isinstance(threshold, float | int):
        ax.axhline(threshold, color="tab:red", ls="--", lw=1.2, label=f"threshold {threshold:.2f}")
    for label, at in markers.items():
        if at is not None:
            ax.axvline(
                secs(at),
                color=MARKER_COLOURS.get(label, "black"),
                ls=":",
                lw=2,
                label=f"{label} ({secs(at):.0f} s)",
            )
    _recovery_arrow(ax, report, secs)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), framealpha=0.95)


def _recovery_arrow(
    ax: Axes, report: Mapping[str, object], secs: Callable[[datetime], float]
) -> None:
    """How long the line ran on a drifted model, drawn between drift onset and the swap."""
    drift, serving = _when(report.get("drift_started_at")), _when(report.get("champion_serving_at"))
    if drift is None or serving is None:
        return
    ax.annotate(
        "",
        xy=(secs(serving), 0.05),
        xytext=(secs(drift), 0.05),
        arrowprops={"arrowstyle": "<->", "color": "0.25"},
    )
    ax.text(
        (secs(drift) + secs(serving)) / 2,
        0.07,
        f"{(serving - drift).total_seconds():.1f} s from drift to new champion",
        ha="center",
        va="bottom",
        fontsize=9,
        color="0.25",
        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8},
    )


def _title(report: Mapping[str, object]) -> str:
    seconds, before, after = (
        report.get(key) for key in ("seconds_drift_to_serving", "champion_before", "champion_after")
    )
    took = f"; drift to new champion serving: {seconds:.1f} s" if isinstance(seconds, float) else ""
    swap = f" (model v{before} \u2192 v{after})" if before and after else ""
    return (
        f"{report.get('line_id')}: yield through drift and retraining\n"
        f"decision: {report.get('decision')}{swap}{took}"
    )


def write(
    run_dir: Path, report: Mapping[str, object], series: Sequence[tuple[datetime, float]]
) -> tuple[Path, Path]:
    """`report.json` and `report.png` in `run_dir`."""
    run_dir.mkdir(parents=True, exist_ok=True)
    data = run_dir / "report.json"
    data.write_text(json.dumps(report, indent=2) + "\n")
    return data, plot(report, series, path=run_dir / "report.png", markers=markers_of(report))


def _pct(value: object) -> str:
    return f"{value:.1%}" if isinstance(value, float | int) else "-"


def _clock(value: object) -> str:
    at = _when(value)
    return f"{at:%H:%M:%S} UTC" if at is not None else "-"


def _secs(value: object) -> str:
    return f"{value:.1f} s" if isinstance(value, float | int) else "-"


def _plain(value: object) -> str:
    return "-" if value is None else str(value)


ROWS: tuple[tuple[str, str, Callable[[object], str]], ...] = (
    ("line", "line_id", _plain),
    ("decision", "decision", _plain),
    ("champion before", "champion_before", _plain),
    ("champion after", "champion_after", _plain),
    ("drift started", "drift_started_at", _clock),
    ("retrain requested", "retrain_requested_at", _clock),
    ("new champion serving", "champion_serving_at", _clock),
    ("drift to serving", "seconds_drift_to_serving", _secs),
    ("samples selected", "selected_samples", _plain),
    ("pseudo-label precision", "pseudo_label_precision", _pct),
    ("accuracy before drift", "accuracy_before_drift", _pct),
    ("accuracy under drift", "accuracy_under_drift", _pct),
    ("accuracy after recovery", "accuracy_after_recovery", _pct),
    ("yield threshold", "yield_threshold", _pct),
    ("lowest reported yield", "lowest_reported_yield", _pct),
    ("yield after recovery", "yield_after_recovery", _pct),
    ("predictions", "predictions", _plain),
)


def summary_table(report: Mapping[str, object]) -> str:
    """The main figures as an aligned two-column table for the terminal."""
    width = max(len(label) for label, _, _ in ROWS)
    return "\n".join(f"{label:<{width}}  {show(report.get(key))}" for label, key, show in ROWS)
