"""The figures of an iteration that live in MLflow beside its facts: the curation's committee
settings, the training run's parameters and status, the registered version's weights hash, the
gate's reasons, and every run a retried job left behind."""

from __future__ import annotations

from typing import Any

from yieldloop.audit.tracked import Run, Tracked

Json = dict[str, Any]
COMMITTEE = ("confidence_threshold", "val_ratio", "holdout_ratio", "merge_with_previous")


def enrich(story: Json, tracked: Tracked, *, model_name: str) -> Json:
    """The story with MLflow's side added; links that lead nowhere are left for --verify."""
    runs = tracked.runs_of(story["iteration_id"])
    if (dataset := story["dataset"]) is not None:
        dataset["curation"] = _curation(tracked.run(dataset["mlflow_run_id"]))
        if dataset["previous"] is None and dataset["base_version"]:
            dataset["previous"] = _previous(tracked, model_name, dataset["base_version"])
    if (training := story["training"]) is not None:
        _training(training, tracked)
    if (decision := story["decision"]) is not None:
        gate = next((r for r in runs if r.tags.get("stage") == "gate"), None)
        decision["gate_run_id"] = gate.run_id if gate else None
        if not decision["reasons"] and gate is not None:
            text = tracked.text(gate.run_id, "decision.txt") or ""
            decision["reasons"] = [line for line in text.splitlines() if line]
    story["retries"]["runs"] = [
        {"run_id": r.run_id, "name": r.name, "stage": r.tags.get("stage"), "status": r.status}
        for r in runs
    ]
    story["retries"]["killed_runs"] = sum(r.status == "KILLED" for r in runs)
    return story


def _curation(run: Run | None) -> Json | None:
    if run is None:
        return None
    return {
        "status": run.status,
        "committee": {k: run.params[k] for k in COMMITTEE if k in run.params},
        "metrics": dict(run.metrics),
    }


def _previous(tracked: Tracked, model_name: str, version: str) -> Json | None:
    mv = tracked.version(model_name, version)
    if mv is None:
        return None
    return {
        "version": version,
        "iteration_id": mv.tags.get("iteration_id"),
        "manifest_uri": mv.tags.get("manifest_uri"),
        "manifest_sha256": mv.tags.get("manifest_sha256"),
        "source": "mlflow",
    }


def _training(training: Json, tracked: Tracked) -> None:
    run = tracked.run(training["mlflow_run_id"])
    mv = tracked.version(training["model_name"], training["version"])
    training["run_status"] = run.status if run else None
    training["params"] = dict(run.params) if run else {}
    training["weights_sha256"] = mv.sha256 if mv else None
    training["arch"] = mv.arch if mv else None
    if run is not None and not training["epochs"]:  # progress events lost: the run has them
        history = tracked.metric_history(run.run_id, "val_accuracy")
        training["epochs"] = [{"epoch": step, "val_accuracy": v} for step, v in history]
