"""Reading what a replay needs and running it: nothing here publishes or joins a group."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, get_origin

from schemas import (
    DatasetCurated,
    IterationAborted,
    ModelApproved,
    ModelCandidate,
    ModelDeployed,
    ModelRejected,
    PredictionMade,
    RetrainQueued,
    RetrainRequested,
    topic_for,
)
from services.common.history import Window, read_events, read_records
from services.common.models import load, registry_from
from services.common.store import LocalImageStore
from services.monitor.config import MonitorConfig, MonitorSettings
from yieldloop.audit.collect import Collector
from yieldloop.replay import images as rejudging
from yieldloop.replay.monitor import run_monitor
from yieldloop.replay.triggers import compare, triggers
from yieldloop.truth import read_truth

MONITOR_READS = tuple(
    topic_for(kind)
    for kind in (
        PredictionMade,
        ModelDeployed,
        ModelRejected,
        IterationAborted,
        RetrainRequested,
        RetrainQueued,
        DatasetCurated,
        ModelCandidate,
        ModelApproved,
    )
)


def with_policy(settings: MonitorSettings, what_if: dict[str, Any]) -> MonitorSettings:
    """The settings with other monitor values, checked as the monitor would check them. A list
    (`signals`) is given as JSON or as names separated by commas."""
    if not what_if:
        return settings
    given = {key: _listed(key, value) for key, value in what_if.items()}
    monitor = MonitorConfig.model_validate({**settings.monitor.model_dump(), **given})
    return settings.model_copy(update={"monitor": monitor})


def _listed(key: str, value: Any) -> Any:
    field = MonitorConfig.model_fields.get(key)
    if field is None or get_origin(field.annotation) is not list or not isinstance(value, str):
        return value
    if value.lstrip().startswith("["):
        return json.loads(value)
    return [name.strip() for name in value.split(",") if name.strip()]


def policy_of(settings: MonitorSettings) -> dict[str, Any]:
    """The policy the replay ran, as JSON-able data (the signals' bounds with it)."""
    return dict(_plain(asdict(settings.monitor.policy())))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return sorted(value) if isinstance(value, frozenset) else value


async def monitor(
    settings: MonitorSettings,
    *,
    since: datetime | None,
    until: datetime | None,
    what_if: dict[str, Any],
) -> dict[str, Any]:
    records = await read_records(settings, MONITOR_READS, window=Window(since, until))
    recorded = Collector()
    recorded.add(records)
    got = recorded.collected()
    outcome = await run_monitor(with_policy(settings, what_if), records)
    result = compare(triggers(got.events, got.lines), triggers(outcome.published, got.lines))
    return {
        "window": {"since": since, "until": until},
        "what_if": what_if,
        "policy": policy_of(with_policy(settings, what_if)),
        "records": len(records),
        "predictions": {line: len(p) for line, p in got.lines.items()},
        **result,
    }


async def images(
    settings: MonitorSettings,
    *,
    version: str,
    since: datetime | None,
    until: datetime | None,
    line: str | None,
    truth: Path | None,
) -> dict[str, Any]:
    events = await read_events(settings, [topic_for(PredictionMade)], window=Window(since, until))
    predictions = rejudging.distinct(
        [e for e in events if isinstance(e, PredictionMade) and line in (None, e.line_id)]
    )
    labels = _truth(truth)
    registry = registry_from(settings)
    mv = await asyncio.to_thread(registry.get, settings.mlflow.model_name, version)
    model = await asyncio.to_thread(load, registry, mv)
    store = LocalImageStore(settings.store_root)
    judged, missing = await asyncio.to_thread(rejudging.rejudge, predictions, model, store, labels)
    return {
        "window": {"since": since, "until": until},
        "line": line,
        "summary": rejudging.summary(judged, version=version, missing=missing),
        "judgements": [j.__dict__ for j in judged],
    }


def _truth(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    rows = read_truth(path)
    by_item = {r.item_id: r.label for r in rows if r.label}
    return {**{r.sha256: r.label for r in rows if r.label}, **by_item}
