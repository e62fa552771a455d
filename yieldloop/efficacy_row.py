"""One row of the efficacy table: what the loop did on one drift, and how right it was."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from schemas import (
    DatasetCurated,
    Event,
    IterationAborted,
    ModelApproved,
    ModelCandidate,
    ModelDeployed,
    ModelRejected,
    PredictionMade,
    RetrainRequested,
)
from schemas.datasets import DatasetManifest
from services.common.registry import ModelVersion
from services.common.store import get_model
from yieldloop.efficacy_measure import (
    Judged,
    Lab,
    accuracy,
    committee_labels,
    fine_tuned,
    judged,
    live_accuracy,
    loaded,
    referee_accuracies,
    referee_votes,
    truly_labelled,
)
from yieldloop.sources import DriftSwitch
from yieldloop.truth import read_truth

DECISIONS = {ModelApproved: "approved", ModelRejected: "rejected", IterationAborted: "aborted"}


def measure_row(
    kind: str,
    strength: float,
    events: Sequence[Event],
    switch: DriftSwitch,
    truth_path: Path,
    base: ModelVersion,
    lab: Lab,
) -> dict[str, object]:
    truth = {row.item_id: row for row in read_truth(truth_path)}
    labels = {row.sha256: row.label for row in truth.values() if row.label}
    onset = switch.switched_at
    predictions = sorted(
        (e for e in events if isinstance(e, PredictionMade)), key=lambda p: p.occurred_at
    )
    request = next(
        (e for e in events if isinstance(e, RetrainRequested) and _after(e.occurred_at, onset)),
        None,
    )
    iteration_id = request.iteration_id if request is not None else ""
    mine = [e for e in events if getattr(e, "iteration_id", None) == iteration_id]
    decided = next((e for e in mine if type(e) in DECISIONS), None)
    deployed = next((e for e in mine if isinstance(e, ModelDeployed)), None)
    drifted = [p for p in predictions if p.item_id in truth and truth[p.item_id].drifted]
    after = _served_after(drifted, decided, deployed)
    row: dict[str, object] = {
        "drift": kind,
        "strength": strength,
        "signal": request.signal if request is not None else None,
        "seconds_to_trigger": (request.occurred_at - onset).total_seconds()
        if request is not None and onset is not None
        else None,
        "candidates": len(request.images) if request is not None else 0,
        "kept": next((e.selected for e in mine if isinstance(e, DatasetCurated)), 0),
        "pseudo_label_precision": _precision(mine, labels, lab),
        "accuracy_before": live_accuracy(
            [p for p in predictions if p.item_id in truth and not truth[p.item_id].drifted], truth
        ),
        "accuracy_under": live_accuracy(
            [p for p in drifted if p.model_version == base.version and not _late(p, decided)],
            truth,
        ),
        "accuracy_after": live_accuracy(after, truth),
        "decision": DECISIONS[type(decided)] if decided is not None else "none",
        "reason": _reason(decided),
    }
    if request is not None and after:
        row |= _offline(request, mine, judged(after, truth), labels, base, lab)
    return finish(row)


def _offline(
    request: RetrainRequested,
    mine: list[Event],
    on: Judged,
    labels: dict[str, str],
    base: ModelVersion,
    lab: Lab,
) -> dict[str, object]:
    """The oracle, the referees on these images, and the candidate the decision was about: the
    one trained, or the one the loop refused to train on the referees' labels (none when too
    few of them would have survived the committee)."""
    votes = referee_votes(request.images, lab)
    truly = truly_labelled(request.images, labels)
    oracle = fine_tuned(base, truly, iteration_id=f"oracle-{request.iteration_id}", lab=lab)
    oracle_accuracy = accuracy(oracle, base, on, lab)
    champion_accuracy = accuracy(loaded(base, lab), base, on, lab)
    candidate = next((e for e in mine if isinstance(e, ModelCandidate)), None)
    if candidate is not None:
        version = lab.registry.get(candidate.model_name, candidate.version)
        candidate_accuracy = accuracy(loaded(version, lab), version, on, lab)
    else:
        kept = committee_labels(request.images, votes, lab)
        candidate_accuracy = None
        if len(kept) >= lab.curator.min_selected:
            refused = fine_tuned(
                base, kept, iteration_id=f"refused-{request.iteration_id}", lab=lab
            )
            candidate_accuracy = accuracy(refused, base, on, lab)
    return {
        "oracle_accuracy": oracle_accuracy,
        "referee_accuracy": referee_accuracies(votes, request.images, labels),
        "champion_accuracy": champion_accuracy,
        "candidate_accuracy": candidate_accuracy,
    }


def _after(at: datetime, onset: datetime | None) -> bool:
    return onset is None or at >= onset


def _late(p: PredictionMade, decided: Event | None) -> bool:
    return decided is not None and p.occurred_at >= decided.occurred_at


def _served_after(
    drifted: list[PredictionMade], decided: Event | None, deployed: ModelDeployed | None
) -> list[PredictionMade]:
    """The drifted parts the line judged once the iteration was over: by the new model when
    one was deployed, else by the model that kept serving."""
    if decided is None:
        return []
    if deployed is not None:
        return [p for p in drifted if p.model_version == deployed.version]
    return [p for p in drifted if p.occurred_at >= decided.occurred_at]


def _precision(mine: list[Event], labels: dict[str, str], lab: Lab) -> float | None:
    curated = next((e for e in mine if isinstance(e, DatasetCurated)), None)
    if curated is None:
        return None
    manifest = get_model(lab.store, curated.manifest_uri, DatasetManifest)
    source = f"iteration:{curated.iteration_id}"
    hits = [
        labels[e.sha256] == e.label
        for e in manifest.entries
        if e.source == source and e.sha256 in labels
    ]
    return sum(hits) / len(hits) if hits else None


def _reason(decided: Event | None) -> str | None:
    match decided:
        case IterationAborted():
            return decided.reason
        case ModelRejected():
            return "; ".join(decided.reasons)
    return None


def finish(row: dict[str, object]) -> dict[str, object]:
    """The ratio after/oracle, and whether the decision was right by the truth: approving is
    right when the candidate beats the champion on these parts, refusing (or not training) when
    it does not; an iteration aborted with too few labels to train on had nothing to approve."""
    after, oracle = row.get("accuracy_after"), row.get("oracle_accuracy")
    ratio = (
        after / oracle
        if isinstance(after, float) and isinstance(oracle, float) and oracle
        else None
    )
    cand, champ = row.get("candidate_accuracy"), row.get("champion_accuracy")
    better = cand > champ if isinstance(cand, float) and isinstance(champ, float) else None
    right: bool | None = None
    if row["decision"] == "approved":
        right = better
    elif row["decision"] in ("rejected", "aborted"):
        right = (not better) if better is not None else row["decision"] == "aborted"
    return {**row, "after_over_oracle": ratio, "decision_right": right}
