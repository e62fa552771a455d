"""The demo report's plot: yield over time with drift onset, trigger and deployment marked."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def markers_of(report: Mapping[str, object]) -> dict[str, datetime | None]:
    """The moments the plot marks, read back from the report's ISO strings."""
    names = {
        "drift onset": "drift_started_at",
        "retrain requested": "retrain_requested_at",
        "new champion serving": "champion_serving_at",
    }
    return {label: when(report.get(key)) for label, key in names.items()}


def when(value: object) -> datetime | None:
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
    path: Path | IO[bytes],
    markers: Mapping[str, datetime | None],
) -> Path | IO[bytes]:
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
    fig.savefig(path, dpi=110, format="png")
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
    drift, serving = when(report.get("drift_started_at")), when(report.get("champion_serving_at"))
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
