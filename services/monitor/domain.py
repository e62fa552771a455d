"""Rolling health of one production line; the policy that turns a lasting drop into a retrain.

Every enabled signal (services.monitor.signals) reads the same recent window. A signal out of
bounds makes the line DEGRADED; it triggers once it has stayed out (never back inside by its
margin) for `confirm_predictions` and is still out. The line is healthy again when all are."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from services.monitor.signals import (
    PRIORITY,
    Reading,
    Reference,
    Signal,
    SignalPolicy,
    confidence_reading,
    input_reading,
    mix_reading,
    total_variation,
    yield_reading,
)

Ref = TypeVar("Ref")
Snapshot = dict[str, Any]
Features = Mapping[str, float]


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
    signals: SignalPolicy = field(kw_only=True)

    def __post_init__(self) -> None:
        counts = (
            self.recent_window,
            self.baseline_predictions,
            self.sample_limit,
            self.report_every,
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
    input_shift: float | None
    out_of_bounds: tuple[str, ...]
    state: LineState


@dataclass(frozen=True)
class Trigger(Generic[Ref]):
    reason: str
    yield_rate: float
    threshold: float
    samples: list[Ref]
    signal: str = Signal.YIELD


@dataclass(frozen=True)
class Verdict(Generic[Ref]):
    report: WindowHealth | None
    trigger: Trigger[Ref] | None


@dataclass(frozen=True)
class _Seen(Generic[Ref]):
    ref: Ref
    label: str
    confidence: float
    features: Features = field(default_factory=dict)


class LineMonitor(Generic[Ref]):
    """Watches one line's predictions; raises one trigger per lasting drop of any signal."""

    def __init__(self, policy: MonitorPolicy) -> None:
        self._policy = policy
        self._window: deque[_Seen[Ref]] = deque(maxlen=policy.recent_window)
        self._reference = Reference(policy.baseline_predictions)
        self._drop: deque[Ref] = deque(maxlen=policy.sample_limit)
        self._out: dict[Signal, int] = {}  # signals out of bounds: predictions since they left
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
        if self._reference.labels.total() < self._policy.baseline_predictions:
            return None
        return self._ok_share(self._reference.labels)

    @property
    def threshold(self) -> float | None:
        return self._policy.threshold(self.baseline)

    def observe(
        self, *, ref: Ref, label: str, confidence: float, features: Features | None = None
    ) -> Verdict[Ref]:
        self._predictions += 1
        self._in_state += 1
        self._window.append(_Seen(ref, label, confidence, dict(features or {})))
        trigger = self._advance(ref)
        if self._state in (LineState.WARMING, LineState.HEALTHY):
            low = confidence < self._policy.low_confidence
            self._reference.learn(label, confidence, low, features or {})
        return Verdict(report=self._report_if_due(), trigger=trigger)

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
            self._out = dict.fromkeys(self._out, 0)
            self._enter(LineState.DEGRADED)
        else:
            self._cool_down()  # a model changed meanwhile and the old drop says nothing about it

    def model_changed(self) -> None:
        """A new model serves: what the window held says nothing about it, and its confidence
        and the input it now sees are learned afresh as the new normal."""
        self._window.clear()
        self._drop.clear()
        self._reference.forget_model()
        if self._state is not LineState.IN_ITERATION:
            self._cool_down()

    def snapshot(self, dump: Callable[[Ref], Any]) -> Snapshot:
        """Everything the monitor knows of the line, as JSON-able data (a checkpoint)."""
        return {
            "window": [[dump(s.ref), s.label, s.confidence, s.features] for s in self._window],
            "reference": self._reference.snapshot(),
            "drop": [dump(ref) for ref in self._drop],
            "out": {str(k): v for k, v in self._out.items()},
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
        line._window.extend(_Seen(load(s[0]), s[1], s[2], *s[3:]) for s in snapshot["window"])
        saved = snapshot["reference"]
        # A checkpoint from before the label-free signals holds only the label counts.
        line._reference = Reference.restore(
            policy.baseline_predictions, saved if "labels" in saved else {"labels": saved}
        )
        line._drop.extend(load(ref) for ref in snapshot["drop"])
        line._out = {Signal(k): v for k, v in snapshot.get("out", {}).items()}
        line._state = LineState(snapshot["state"])
        line._reported_state = LineState(snapshot["reported_state"])
        counts = snapshot["counts"]
        line._predictions, line._in_state, line._since_report, line._cooldown = counts
        if line._state in (LineState.DEGRADED, LineState.IN_ITERATION) and not line._out:
            line._out = {Signal.YIELD: line._in_state}  # checkpointed when only yield triggered
        return line

    def _advance(self, ref: Ref) -> Trigger[Ref] | None:
        state, full = self._state, len(self._window) == self._policy.recent_window
        if (state is LineState.WARMING and full) or state is LineState.HEALTHY:
            self._settle()
        elif state is LineState.DEGRADED:
            return self._watch_drop(ref)
        elif state is LineState.COOLDOWN and self._in_state >= self._cooldown:
            self._settle()
        return None

    def _settle(self) -> None:
        if len(self._window) < self._policy.recent_window:
            self._enter(LineState.WARMING)
            return
        out = [r.signal for r in self._readings() if r.out]
        if out:
            self._begin_drop(out)
        elif self._state is not LineState.HEALTHY:
            self._enter(LineState.HEALTHY)

    def _begin_drop(self, out: list[Signal]) -> None:
        self._drop.clear()
        self._drop.extend(seen.ref for seen in self._window)
        self._out = dict.fromkeys(out, 0)
        self._enter(LineState.DEGRADED)

    def _watch_drop(self, ref: Ref) -> Trigger[Ref] | None:
        """Each signal out of bounds counts on until it is back inside by its margin; the one
        out longest (then the first in PRIORITY) fires once it is confirmed and still out."""
        self._drop.append(ref)
        readings = {r.signal: r for r in self._readings()}
        for signal in list(self._out):
            reading = readings.get(signal)
            if reading is None or reading.recovered:
                del self._out[signal]
            else:
                self._out[signal] += 1
        for signal, reading in readings.items():
            if reading.out and signal not in self._out:
                self._out[signal] = 0
        if not self._out:
            self._enter(LineState.HEALTHY)
            return None
        confirmed = [
            readings[s]
            for s in PRIORITY
            if self._out.get(s, 0) >= max(self._policy.confirm_predictions, 1) and readings[s].out
        ]
        if not confirmed:
            return None
        fired = max(confirmed, key=lambda r: self._out[r.signal])
        return self._fire(fired)

    def _fire(self, reading: Reading) -> Trigger[Ref]:
        reason = f"{reading.says} for {self._out[reading.signal]} predictions"
        threshold = self.threshold
        self._enter(LineState.IN_ITERATION)
        return Trigger(
            reason,
            self._yield(),
            threshold if threshold is not None else self._policy.threshold_floor,
            samples=list(self._drop),
            signal=reading.signal,
        )

    def _readings(self) -> list[Reading]:
        """What each enabled signal reads in the window; a signal without its reference yet
        (or without the numbers it needs) reads nothing."""
        p, ref, window = self._policy, self._reference, self._window
        enabled, readings = p.signals.enabled, []
        threshold = self.threshold
        if Signal.YIELD in enabled and threshold is not None:
            readings.append(yield_reading(self._yield(), threshold, p.recover_margin))
        if Signal.MIX in enabled and self.baseline is not None:
            labels = Counter(seen.label for seen in window)
            readings.append(mix_reading(labels, ref, p.signals.mix_shift, p.recover_margin))
        if Signal.CONFIDENCE in enabled and ref.confidence.n >= p.baseline_predictions:
            confidences = [seen.confidence for seen in window]
            readings.append(
                confidence_reading(confidences, p.low_confidence, ref, p.signals, p.recover_margin)
            )
        if Signal.INPUT in enabled:
            found = input_reading([s.features for s in window], ref.ready_features(), p.signals)
            readings += [found] if found is not None else []
        return readings

    def _cool_down(self, length: int | None = None) -> None:
        self._cooldown = self._policy.cooldown_predictions if length is None else length
        self._window.clear()
        self._drop.clear()
        self._out = {}
        self._enter(LineState.COOLDOWN)

    def _enter(self, state: LineState) -> None:
        self._state, self._in_state = state, 0

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
        reference = self._reference
        shift = total_variation(labels, reference.labels) if self.baseline is not None else 0.0
        moved = input_reading(
            [s.features for s in self._window], reference.ready_features(), policy.signals
        )
        return WindowHealth(
            window_size=len(confidences),
            yield_rate=self._ok_share(labels),
            threshold=self.threshold,
            baseline=self.baseline,
            mean_confidence=sum(confidences) / len(confidences),
            low_confidence_share=low / len(confidences),
            mix_shift=shift,
            input_shift=moved.value if moved is not None else None,
            out_of_bounds=tuple(str(s) for s in PRIORITY if s in self._out),
            state=self._state,
        )
