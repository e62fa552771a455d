"""The promotion gate: a challenger serves only if proven better and no worse where it counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

Metric = Literal["accuracy", "balanced_accuracy"]

# An improvement of exactly min_improvement must not be refused for float rounding.
_TOLERANCE = 1e-9


def accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    _check_paired(truth, predicted)
    return sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth)


def recall_by_class(
    truth: Sequence[str], predicted: Sequence[str], classes: Sequence[str]
) -> dict[str, float]:
    """Share of each class's samples predicted as that class; classes absent from truth omitted."""
    _check_paired(truth, predicted)
    totals = Counter(truth)
    hits = Counter(t for t, p in zip(truth, predicted, strict=True) if t == p)
    return {c: hits[c] / totals[c] for c in classes if totals[c]}


def balanced_accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    recalls = recall_by_class(truth, predicted, sorted(set(truth)))
    return sum(recalls.values()) / len(recalls)


def _check_paired(truth: Sequence[str], predicted: Sequence[str]) -> None:
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} true labels but {len(predicted)} predictions")
    if not truth:
        raise ValueError("nothing to score")


_METRICS: dict[str, Callable[[Sequence[str], Sequence[str]], float]] = {
    "accuracy": accuracy,
    "balanced_accuracy": balanced_accuracy,
}


def _ng_floor() -> dict[str, float]:
    return {"NG": 0.9}


@dataclass(frozen=True)
class GatePolicy:
    metric: Metric = "accuracy"
    min_improvement: float = 0.01
    golden_max_drop: float = 0.03
    recall_floors: Mapping[str, float] = field(default_factory=_ng_floor)

    def __post_init__(self) -> None:
        if self.metric not in _METRICS:
            raise ValueError(f"unknown metric {self.metric!r}; choose one of {sorted(_METRICS)}")

    @property
    def metric_name(self) -> str:
        return self.metric.replace("_", " ")


@dataclass(frozen=True)
class Scores:
    holdout: float
    golden: float
    golden_recall: Mapping[str, float]


@dataclass(frozen=True)
class Decision:
    approved: bool
    reasons: tuple[str, ...]
    scores: dict[str, float]


def score(
    truth_holdout: Sequence[str],
    pred_holdout: Sequence[str],
    truth_golden: Sequence[str],
    pred_golden: Sequence[str],
    *,
    policy: GatePolicy,
    classes: Sequence[str],
) -> Scores:
    measure = _METRICS[policy.metric]
    return Scores(
        holdout=measure(truth_holdout, pred_holdout),
        golden=measure(truth_golden, pred_golden),
        golden_recall=recall_by_class(truth_golden, pred_golden, classes),
    )


def decide(*, champion: Scores, challenger: Scores, policy: GatePolicy) -> Decision:
    """Approve only if every rule holds; otherwise say which rules failed, with the figures."""
    failures = [
        *_holdout_failures(champion, challenger, policy),
        *_golden_failures(champion, challenger, policy),
        *_recall_failures(challenger, policy),
    ]
    reasons = tuple(failures) or (_approval(champion, challenger, policy),)
    return Decision(approved=not failures, reasons=reasons, scores=_flat(champion, challenger))


def _holdout_failures(champion: Scores, challenger: Scores, policy: GatePolicy) -> list[str]:
    if challenger.holdout - champion.holdout >= policy.min_improvement - _TOLERANCE:
        return []
    return [
        f"holdout {policy.metric_name} {challenger.holdout:.3f} is not"
        + f" {policy.min_improvement:g} above champion's {champion.holdout:.3f}"
    ]


def _golden_failures(champion: Scores, challenger: Scores, policy: GatePolicy) -> list[str]:
    if champion.golden - challenger.golden <= policy.golden_max_drop + _TOLERANCE:
        return []
    return [
        f"golden {policy.metric_name} {challenger.golden:.3f} is more than"
        + f" {policy.golden_max_drop:g} below champion's {champion.golden:.3f}"
    ]


def _recall_failures(challenger: Scores, policy: GatePolicy) -> list[str]:
    failures = []
    for label, floor in policy.recall_floors.items():
        recall = challenger.golden_recall.get(label)
        if recall is None:
            failures.append(
                f"golden set has no {label} samples to check the {floor:g} recall floor"
            )
        elif recall < floor - _TOLERANCE:
            failures.append(f"golden recall of {label} {recall:.3f} is below the floor {floor:g}")
    return failures


def _approval(champion: Scores, challenger: Scores, policy: GatePolicy) -> str:
    return (
        f"holdout {policy.metric_name} {challenger.holdout:.3f} beats champion's"
        f" {champion.holdout:.3f} by {challenger.holdout - champion.holdout:.3f}; golden"
        f" {challenger.golden:.3f} against {champion.golden:.3f}, within {policy.golden_max_drop:g}"
    )


def _flat(champion: Scores, challenger: Scores) -> dict[str, float]:
    scores = {
        "champion_holdout": champion.holdout,
        "challenger_holdout": challenger.holdout,
        "champion_golden": champion.golden,
        "challenger_golden": challenger.golden,
    }
    scores |= {f"champion_recall_{c}": r for c, r in champion.golden_recall.items()}
    scores |= {f"challenger_recall_{c}": r for c, r in challenger.golden_recall.items()}
    return scores


def stale_base(base_version: str | None, champion_version: str) -> Decision | None:
    """A candidate trained from a model that no longer serves would silently undo whatever
    replaced that model: it is refused whatever its scores."""
    if base_version is None or base_version == champion_version:
        return None
    reason = f"trained from v{base_version}, but v{champion_version} is the champion now"
    return Decision(approved=False, reasons=(reason,), scores={})
