"""Rolling health of one production line; the policy that turns a lasting drop into a retrain."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

Ref = TypeVar("Ref")
Snapshot = dict[str, Any]


@dataclass(frozen=True)
class MonitorPolicy:
    yield_threshold: float | None = 0.7
    recent_window: int = 29
    yield_drop_tolerance: float = 0.05
    threshold_floor: float = 0.6
    ok_labels: frozenset[str] = frozenset({"OK"})
    baseline_predictions: int = 100
    low_confidence: float = 0.6
    confirm_predictions: int = 150
    recover_margin: float = 0.05
    cooldown_predictions: int = 58
    retry_cooldown_predictions: int = 1200  # after an iteration that did not repair the line
    sample_limit: int = 400
    report_every: int = 10
    accuracy_window: int = 100  # latest items a person labelled, for the true accuracy

    def __post_init__(self) -> None:
        counts = (
            self.recent_window,
            self.baseline_predictions,
            self.sample_limit,
            self.report_every,
            self.accuracy_window,
        )
        pauses = (
            self.confirm_predictions,
            self.cooldown_predictions,
            self.retry_cooldown_predictions,
        )
        if min(counts) < 1 or min(pauses) < 0:
            raise ValueError("monitor windows and counts must be positive")

    def threshold(self, baseline: float | None) -> float | None:
        """The yield below which the line is degraded; None while there is nothing to judge by."""
        if self.yield_threshold is not None:
            return self.yield_threshold
        if baseline is None:
            return None
        return max(baseline - self.yield_drop_tolerance, self.threshold_floor)


class LineState(StrEnum):
    WARMING = "warming"
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    IN_ITERATION = "in_iteration"
    COOLDOWN = "cooldown"


@dataclass(frozen=True)
class WindowHealth:
    window_size: int
    yield_rate: float
    threshold: float | None
    baseline: float | None
    mean_confidence: float
    low_confidence_share: float
    mix_shift: float
    state: LineState
    accuracy: float | None = None  # over the latest labelled items; None without any
    labelled: int = 0


@dataclass(frozen=True)
class Trigger(Generic[Ref]):
    reason: str
    yield_rate: float
    threshold: float
    samples: list[Ref]
    served: list[str]  # the label each sample was given, in the same order


@dataclass(frozen=True)
class Verdict(Generic[Ref]):
    report: WindowHealth | None
    trigger: Trigger[Ref] | None


@dataclass(frozen=True)
class _Seen(Generic[Ref]):
    ref: Ref
    label: str
    confidence: float


def total_variation(mix: Mapping[str, int], reference: Mapping[str, int]) -> float:
    """Distance between two label mixes given as counts: 0 when alike, 1 when disjoint."""
    n_mix, n_ref = sum(mix.values()), sum(reference.values())
    labels = set(mix) | set(reference)
    return sum(abs(mix.get(k, 0) / n_mix - reference.get(k, 0) / n_ref) for k in labels) / 2


class LineMonitor(Generic[Ref]):
    """Watches one line's predictions; raises one trigger per lasting yield drop."""

    def __init__(self, policy: MonitorPolicy) -> None:
        self._policy = policy
        self._window: deque[_Seen[Ref]] = deque(maxlen=policy.recent_window)
        self._reference: Counter[str] = Counter()
        self._drop: deque[_Seen[Ref]] = deque(maxlen=policy.sample_limit)
        self._outcomes: dict[str, bool] = {}  # item -> served label was right, oldest first
        self._state = LineState.WARMING
        self._reported_state = LineState.WARMING
        self._predictions = self._in_state = self._since_report = 0
        self._cooldown = policy.cooldown_predictions

    @property
    def state(self) -> LineState:
        return self._state

    @property
    def predictions_seen(self) -> int:
        return self._predictions

    @property
    def baseline(self) -> float | None:
        if self._reference.total() < self._policy.baseline_predictions:
            return None
        return self._ok_share(self._reference)

    @property
    def threshold(self) -> float | None:
        return self._policy.threshold(self.baseline)

    def observe(self, *, ref: Ref, label: str, confidence: float) -> Verdict[Ref]:
        self._predictions += 1
        self._in_state += 1
        seen = _Seen(ref, label, confidence)
        self._window.append(seen)
        trigger = self._advance(seen)
        if self._state in (LineState.WARMING, LineState.HEALTHY):
            self._learn_baseline(label)
        return Verdict(report=self._report_if_due(), trigger=trigger)

    def labelled(self, item: str, *, correct: bool) -> None:
        """A person labelled an item of this line: was the label it was served right?"""
        self._outcomes.pop(item, None)
        self._outcomes[item] = correct
        while len(self._outcomes) > self._policy.accuracy_window:
            del self._outcomes[next(iter(self._outcomes))]

    def end_iteration(self, *, repaired: bool = True) -> None:
        """The iteration ended; one that did not repair the line is retried only after a longer
        cooldown, so a drift the system cannot fix never becomes a retrain storm."""
        if self._state is LineState.IN_ITERATION:
            p = self._policy
            self._cool_down(p.cooldown_predictions if repaired else p.retry_cooldown_predictions)

    def release_trigger(self) -> None:
        """The iteration could not start: watch the drop again, confirming it afresh."""
        if self._state is not LineState.IN_ITERATION:
            return
        if self._drop:
            self._enter(LineState.DEGRADED)
        else:
            self._cool_down()  # a model changed meanwhile and the old drop says nothing about it

    def model_changed(self) -> None:
        """A new model serves: what the window held says nothing about it."""
        self._window.clear()
        self._drop.clear()
        if self._state is not LineState.IN_ITERATION:
            self._cool_down()

    def snapshot(self, dump: Callable[[Ref], Any]) -> Snapshot:
        """Everything the monitor knows of the line, as JSON-able data (a checkpoint)."""
        return {
            "window": [[dump(s.ref), s.label, s.confidence] for s in self._window],
            "reference": dict(self._reference),
            "drop": [[dump(s.ref), s.label] for s in self._drop],
            "outcomes": [[item, correct] for item, correct in self._outcomes.items()],
            "state": str(self._state),
            "reported_state": str(self._reported_state),
            "counts": [self._predictions, self._in_state, self._since_report, self._cooldown],
        }

    @classmethod
    def restore(
        cls, policy: MonitorPolicy, snapshot: Snapshot, load: Callable[[Any], Ref]
    ) -> LineMonitor[Ref]:
        """The line as it was checkpointed: same windows, same state, same counts."""
        line: LineMonitor[Ref] = cls(policy)
        line._window.extend(_Seen(load(r), label, c) for r, label, c in snapshot["window"])
        line._reference.update(snapshot["reference"])
        line._drop.extend(_dropped(raw, load) for raw in snapshot["drop"])
        line._outcomes = {item: bool(ok) for item, ok in snapshot.get("outcomes", [])}
        line._state = LineState(snapshot["state"])
        line._reported_state = LineState(snapshot["reported_state"])
        counts = snapshot["counts"]
        line._predictions, line._in_state, line._since_report, line._cooldown = counts
        return line

    def _advance(self, seen: _Seen[Ref]) -> Trigger[Ref] | None:
        state, full = self._state, len(self._window) == self._policy.recent_window
        if state is LineState.WARMING and full:
            self._settle()
        elif state is LineState.HEALTHY and self._below_threshold():
            self._begin_drop()
        elif state is LineState.DEGRADED:
            return self._watch_drop(seen)
        elif state is LineState.COOLDOWN and self._in_state >= self._cooldown:
            self._settle()
        return None

    def _settle(self) -> None:
        if len(self._window) < self._policy.recent_window:
            self._enter(LineState.WARMING)
        elif self._below_threshold():
            self._begin_drop()
        else:
            self._enter(LineState.HEALTHY)

    def _begin_drop(self) -> None:
        self._drop.clear()
        self._drop.extend(self._window)
        self._enter(LineState.DEGRADED)

    def _watch_drop(self, seen: _Seen[Ref]) -> Trigger[Ref] | None:
        self._drop.append(seen)
        threshold, rate = self.threshold, self._yield()
        if threshold is None or rate >= threshold + self._policy.recover_margin:
            self._enter(LineState.HEALTHY)
        elif self._in_state >= self._policy.confirm_predictions and rate < threshold:
            reason = f"yield {rate:.3f} below {threshold:.3f} for {self._in_state} predictions"
            self._enter(LineState.IN_ITERATION)
            drop = list(self._drop)
            return Trigger(reason, rate, threshold, [s.ref for s in drop], [s.label for s in drop])
        return None

    def _cool_down(self, length: int | None = None) -> None:
        self._cooldown = self._policy.cooldown_predictions if length is None else length
        self._window.clear()
        self._drop.clear()
        self._enter(LineState.COOLDOWN)

    def _enter(self, state: LineState) -> None:
        self._state, self._in_state = state, 0

    def _below_threshold(self) -> bool:
        threshold = self.threshold
        return threshold is not None and self._yield() < threshold

    def _learn_baseline(self, label: str) -> None:
        if self._reference.total() < self._policy.baseline_predictions:
            self._reference[label] += 1

    def _ok_share(self, labels: Counter[str]) -> float:
        return sum(labels[ok] for ok in self._policy.ok_labels) / labels.total()

    def _yield(self) -> float:
        return self._ok_share(Counter(seen.label for seen in self._window))

    def _report_if_due(self) -> WindowHealth | None:
        self._since_report += 1
        full = len(self._window) == self._policy.recent_window
        routine = full and self._since_report >= self._policy.report_every
        if not routine and self._state is self._reported_state:
            return None
        self._since_report, self._reported_state = 0, self._state
        return self._health()

    def _health(self) -> WindowHealth:
        policy, labels = self._policy, Counter(seen.label for seen in self._window)
        confidences = [seen.confidence for seen in self._window]
        low = sum(c < policy.low_confidence for c in confidences)
        shift = total_variation(labels, self._reference) if self.baseline is not None else 0.0
        return WindowHealth(
            window_size=len(confidences),
            yield_rate=self._ok_share(labels),
            threshold=self.threshold,
            baseline=self.baseline,
            mean_confidence=sum(confidences) / len(confidences),
            low_confidence_share=low / len(confidences),
            mix_shift=shift,
            state=self._state,
            accuracy=(
                sum(self._outcomes.values()) / len(self._outcomes) if self._outcomes else None
            ),
            labelled=len(self._outcomes),
        )


def _dropped(raw: Any, load: Callable[[Any], Ref]) -> _Seen[Ref]:
    """A checkpointed drop sample: [ref, label], or a bare ref from before labels were kept."""
    if (
        isinstance(raw, list)
        and len(raw) == 2
        and isinstance(raw[1], str)
        and isinstance(raw[0], list)
    ):
        return _Seen(load(raw[0]), raw[1], 0.0)
    return _Seen(load(raw), "", 0.0)
