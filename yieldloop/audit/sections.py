"""One function per section of an iteration's story: what the facts say, as JSON-able data."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from schemas import (
    AlertRaised,
    DatasetCurated,
    Event,
    IterationAborted,
    ModelApproved,
    ModelCandidate,
    ModelDeployed,
    ModelRejected,
    RetrainQueued,
    RetrainRequested,
    TrainingProgressed,
    YieldReported,
)
from yieldloop.audit.collect import DeadLetter, LinePredictions

Json = dict[str, Any]
ENDINGS = (ModelDeployed, ModelRejected, IterationAborted)


def iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def brief(event: Event, **extra: str) -> Json:
    return {
        "at": iso(event.occurred_at),
        "event_type": event.event_type,
        "event_id": str(event.event_id),
        "producer": event.producer,
        **extra,
    }


def trigger(
    request: RetrainRequested | None, signals: YieldReported | None, line: LinePredictions | None
) -> Json | None:
    if request is None:
        return None
    cause = str(request.causation_id) if request.causation_id else None
    return {
        "at": iso(request.occurred_at),
        "event_id": str(request.event_id),
        "line_id": request.line_id,
        "reason": request.reason,
        "signal": fired(request),
        "yield_rate": request.yield_rate,
        "threshold": request.threshold,
        "champion_version": request.champion_version,
        "signals": _signals(signals),
        "prediction": _prediction(cause, line),
        "image_count": len(request.images),
        "images": [{"sha256": r.sha256, "uri": r.uri} for r in request.images],
    }


def fired(e: RetrainRequested | RetrainQueued) -> str:
    """The signal a trigger names; one recorded before the label-free signals was the yield."""
    return e.signal or "yield"


def _signals(report: YieldReported | None) -> Json | None:
    if report is None:
        return None
    return {
        "at": iso(report.occurred_at),
        "window_size": report.window_size,
        "yield_rate": report.yield_rate,
        "baseline": report.baseline,
        "mean_confidence": report.mean_confidence,
        "low_confidence_share": report.low_confidence_share,
        "mix_shift": report.mix_shift,
        "input_shift": report.input_shift,
        "out_of_bounds": report.out_of_bounds,
        "state": report.state,
    }


def _prediction(cause: str | None, line: LinePredictions | None) -> Json | None:
    """The prediction that tipped the line over, and its place among the line's predictions
    read (1 = the first one)."""
    if cause is None:
        return None
    index = _index(line, cause)
    return {
        "event_id": cause,
        "index": None if index is None else index + 1,
        "at": line.times[index] if line is not None and index is not None else None,
    }


def _index(line: LinePredictions | None, event_id: str) -> int | None:
    if line is None:
        return None
    try:
        return line.ids.index(event_id)
    except ValueError:
        return None


def queued(drop: RetrainQueued) -> Json:
    return {
        **brief(drop),
        "line_id": drop.line_id,
        "reason": drop.reason,
        "yield_rate": drop.yield_rate,
        "image_count": len(drop.images),
    }


def dataset(curated: DatasetCurated | None, previous: Json | None) -> Json | None:
    if curated is None:
        return None
    considered = curated.considered
    return {
        "at": iso(curated.occurred_at),
        "manifest_uri": curated.manifest_uri,
        "manifest_sha256": curated.manifest_sha256,
        "candidates": considered,
        "kept": curated.selected,
        "disagreements": curated.disagreements,
        "agreement": (considered - curated.disagreements) / considered if considered else None,
        "kept_share": curated.selected / considered if considered else None,
        "split_sizes": dict(curated.split_sizes),
        "class_counts": dict(curated.class_counts),
        "base_version": curated.base_version,
        "mlflow_run_id": curated.mlflow_run_id,
        "previous": previous,
    }


def training(candidate: ModelCandidate | None, epochs: Sequence[TrainingProgressed]) -> Json | None:
    if candidate is None:
        return None
    last = {e.epoch: e for e in epochs}  # a retried job reports its epochs again
    return {
        "at": iso(candidate.occurred_at),
        "mlflow_run_id": candidate.run_id,
        "model_name": candidate.model_name,
        "version": candidate.version,
        "base_version": candidate.base_version,
        "manifest_sha256": candidate.manifest_sha256,
        "epochs": [
            {"epoch": e.epoch, "train_loss": e.train_loss, "val_accuracy": e.val_accuracy}
            for _, e in sorted(last.items())
        ],
    }


def decision(decided: ModelApproved | ModelRejected | None) -> Json | None:
    if decided is None:
        return None
    moves = [{"alias": "challenger", "version": decided.version, "by": "trainer"}]
    previous = decided.previous_version if isinstance(decided, ModelApproved) else None
    if isinstance(decided, ModelApproved):
        moves.append({"alias": "champion", "version": decided.version, "by": decided.producer})
    if previous is not None:
        moves.append({"alias": "previous", "version": previous, "by": decided.producer})
    return {
        "at": iso(decided.occurred_at),
        "approved": isinstance(decided, ModelApproved),
        "version": decided.version,
        "previous_version": previous,
        "scores": dict(decided.scores),
        "reasons": list(decided.reasons),
        "alias_moves": moves,
    }


def deployment(deployed: ModelDeployed, line: LinePredictions | None) -> Json:
    """A replica's swap, and the first prediction the new version made on the line."""
    first = None
    if line is not None and deployed.version in line.versions:
        i = line.versions.index(deployed.version)
        first = {"index": i + 1, "at": line.times[i]}
    return {
        "replica_id": deployed.replica_id,
        "version": deployed.version,
        "loaded_at": iso(deployed.loaded_at),
        "reported_at": iso(deployed.occurred_at),
        "warmup_ms": deployed.warmup_ms,
        "first_prediction": first,
    }


def abort(aborted: IterationAborted) -> Json:
    return {**brief(aborted), "stage": aborted.stage, "reason": aborted.reason}


def alert(raised: AlertRaised) -> Json:
    return {**brief(raised), "severity": raised.severity, "summary": raised.summary}


def dead_letter(d: DeadLetter) -> Json:
    return {"at": iso(d.at), "origin": d.origin, "event_type": d.event_type, "error": d.error}
