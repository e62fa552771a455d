"""One self-contained HTML page per iteration: its story, and the line's yield around the
incident drawn with the demo report's plot (embedded, so the page travels as one file)."""

from __future__ import annotations

import base64
import io
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from yieldloop.audit.collect import LinePredictions
from yieldloop.audit.verify import Finding
from yieldloop.report_plot import plot

Json = dict[str, Any]
MARGIN = timedelta(seconds=60)  # of the line's history shown before the trigger and after the end


@cache
def templates() -> Environment:
    return Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(["html"]),
    )


def render(
    story: Json,
    line: LinePredictions | None,
    *,
    window: int,
    ok_labels: Collection[str],
    findings: Sequence[Finding] = (),
) -> str:
    png = yield_png(story, line, window=window, ok_labels=ok_labels)
    return (
        templates()
        .get_template("iteration.html")
        .render(s=story, png=png, findings=findings, window=window)
    )


def yield_png(
    story: Json, line: LinePredictions | None, *, window: int, ok_labels: Collection[str]
) -> str | None:
    """The rolling yield of the line around the incident, as a base64 PNG; None without
    predictions to draw."""
    if line is None or not line.times:
        return None
    start = datetime.fromisoformat(story["opened_at"]) - MARGIN
    end = datetime.fromisoformat(story["ended_at"] or line.times[-1]) + MARGIN
    first = max(0, bisect_left(line.times, start, key=datetime.fromisoformat) - window)
    last = bisect_right(line.times, end, key=datetime.fromisoformat)
    at = [line.at(i) for i in range(first, last)]
    labels, versions = line.labels[first:last], line.versions[first:last]
    ok = [label in ok_labels for label in labels]
    series = [(at[i - 1], sum(ok[i - window : i]) / window) for i in range(window, len(ok) + 1)]
    buffer = io.BytesIO()
    plot(_report(story, at, versions), series, path=buffer, markers=_markers(story))
    return base64.b64encode(buffer.getvalue()).decode()


def _report(story: Json, at: list[datetime], versions: list[str]) -> Json:
    """What the demo report's plot reads: threshold, versions served when, decision."""
    spans: dict[str, list[datetime]] = {}
    for when, version in zip(at, versions, strict=True):
        spans.setdefault(version, []).append(when)
    trigger, decision = story["trigger"] or {}, story["decision"] or {}
    deployed = story["deployments"][0] if story["deployments"] else {}
    return {
        "line_id": f"{story['line_id']} · iteration {story['iteration_id']}",
        "yield_threshold": trigger.get("threshold"),
        "decision": "approved" if decision.get("approved") else story["stage"],
        "champion_before": trigger.get("champion_version"),
        "champion_after": deployed.get("version"),
        "model_versions": [
            {"version": v, "first_at": ts[0].isoformat(), "last_at": ts[-1].isoformat()}
            for v, ts in spans.items()
        ],
    }


def _markers(story: Json) -> dict[str, datetime | None]:
    def at(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    deployed = story["deployments"][0]["loaded_at"] if story["deployments"] else None
    return {
        "retrain requested": at((story["trigger"] or {}).get("at")),
        "new champion serving": at(deployed),
    }
