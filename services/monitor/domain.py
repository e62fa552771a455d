"""Rolling health of one production line; the policy that turns a lasting drop into a retrain.

Every enabled signal (services.monitor.signals) reads the same recent window. A signal out of
bounds makes the line DEGRADED; it triggers once it has stayed out (never back inside by its
margin) for `confirm_predictions` and is still out. The line is healthy again when all are."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, NamedTuple, TypeVar

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

# Running sums drift by a rounding error per value added or removed, some 1e-16 of the value:
# started afresh after this many predictions they stay within 1e-13, at a cost per prediction
# of a window's worth of additions spread over a thousand.
RECOUNT_EVERY = 1024


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
    signals: SignalPolicy = field(kw_only=True)

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
    input_shift: float | None
    out_of_bounds: tuple[str, ...]
    state: LineState
    accuracy: float | None = None  # over the latest labelled items; None without any
    labelled: int = 0


@dataclass(frozen=True)
class Trigger(Generic[Ref]):
    reason: str
    yield_rate: float
    threshold: float
    samples: list[Ref]
    signal: str = Signal.YIELD
    served: list[str] = field(default_factory=list)  # the label each sample was given


@dataclass(frozen=True)
class Verdict(Generic[Ref]):
    report: WindowHealth | None
    trigger: Trigger[Ref] | None


_QUIET: Verdict[Any] = Verdict(report=None, trigger=None)  # most predictions: nothing to say


class _Seen(NamedTuple, Generic[Ref]):
    """One prediction in the window: made for each, so a tuple (a frozen dataclass sets each
    field through object.__setattr__)."""

    ref: Ref
    label: str
    confidence: float
    features: Features


class Window(Generic[Ref]):
    """A line's recent predictions with their running sums, so that every signal reads the
    window in time that does not grow with its length."""

    def __init__(self, size: int, low_below: float) -> None:
        self.size, self.low_below = size, low_below
        self.seen: deque[_Seen[Ref]] = deque()
        self.labels: Counter[str] = Counter()
        self.confidence = 0.0
        self.low = 0
        self.features: dict[str, float] = {}  # each feature's sum
        self.featured: dict[str, int] = {}  # how many in the window carry each feature
        self._until_recount = RECOUNT_EVERY

    def __len__(self) -> int:
        return len(self.seen)

    def __iter__(self) -> Iterator[_Seen[Ref]]:
        return iter(self.seen)

    @property
    def full(self) -> bool:
        return len(self.seen) == self.size

    def push(self, seen: _Seen[Ref]) -> None:
        if len(self.seen) == self.size:
            self._remove(self.seen.popleft())
        self.seen.append(seen)
        self._add(seen)
        self._until_recount -= 1
        if not self._until_recount:
            self._recount()

    def clear(self) -> None:
        self.seen.clear()
        self._recount()

    def ok_share(self, ok_labels: frozenset[str]) -> float:
        return sum(self.labels[ok] for ok in ok_labels) / len(self.seen)

    @property
    def mean_confidence(self) -> float:
        return self.confidence / len(self.seen)

    @property
    def low_share(self) -> float:
        return self.low / len(self.seen)

    def feature_means(self) -> dict[str, float]:
        return {
            k: total / self.featured[k] for k, total in self.features.items() if self.featured[k]
        }

    def _add(self, seen: _Seen[Ref]) -> None:
        self.labels[seen.label] += 1
        self.confidence += seen.confidence
        if seen.confidence < self.low_below:
            self.low += 1
        sums, featured = self.features, self.featured
        for name, value in seen.features.items():
            if name in sums:
                sums[name] += value
                featured[name] += 1
            else:
                sums[name], featured[name] = 0.0 + value, 1

    def _remove(self, seen: _Seen[Ref]) -> None:
        self.labels[seen.label] -= 1
        self.confidence -= seen.confidence
        if seen.confidence < self.low_below:
            self.low -= 1
        sums, featured = self.features, self.featured
        for name, value in seen.features.items():
            sums[name] -= value
            featured[name] -= 1

    def _recount(self) -> None:
        self.labels, self.confidence, self.low = Counter(), 0.0, 0
        self.features, self.featured = {}, {}
        for seen in self.seen:
            self._add(seen)
        self._until_recount = RECOUNT_EVERY


class LineMonitor(Generic[Ref]):
    """Watches one line's predictions; raises one trigger per lasting drop of any signal."""

    def __init__(self, policy: MonitorPolicy) -> None:
        self._policy = policy
        self._window: Window[Ref] = Window(policy.recent_window, policy.low_confidence)
        self._reference = Reference(policy.baseline_predictions)
        self._baseline: float | None = None
        self.changes = 0  # counts what changed the line, so a snapshot of it can be reused
        self._drop: deque[_Seen[Ref]] = deque(maxlen=policy.sample_limit)
        self._outcomes: dict[str, bool] = {}  # item -> served label was right, oldest first
        self._out: dict[Signal, int] = {}  # signals out of bounds: predictions since they left
        self._state = LineState.WARMING
        self._reported_state = LineState.WARMING
        self._predictions = self._in_state = self._since_report = 0
        self._cooldown = policy.cooldown_predictions
        self._stale: str | None = None  # the version a model change replaced, while it lasts

    @property
    def state(self) -> LineState:
        return self._state

    @property
    def predictions_seen(self) -> int:
        return self._predictions

    @property
    def baseline(self) -> float | None:
        if self._baseline is None:
            labels = self._reference.labels
            if labels.total() >= self._policy.baseline_predictions:  # learned in full: it stays
                self._baseline = self._ok_share(labels)
        return self._baseline

    @property
    def threshold(self) -> float | None:
        return self._policy.threshold(self.baseline)

    def observe(
        self,
        *,
        ref: Ref,
        label: str,
        confidence: float,
        features: Features | None = None,
        model: str | None = None,
    ) -> Verdict[Ref]:
        """One prediction, served by `model`. Those the replaced model served before a model
        change was seen (a backlog read after the change) say nothing of the new model: they
        are passed over until a prediction of another version arrives."""
        if self._stale is not None:
            if model == self._stale:
                return Verdict(report=None, trigger=None)
            self._stale = None
        self.changes += 1
        self._predictions += 1
        self._in_state += 1
        seen = _Seen(ref, label, confidence, features or {})
        self._window.push(seen)
        trigger = self._advance(seen)
        if self._state is LineState.HEALTHY or self._state is LineState.WARMING:
            low = confidence < self._policy.low_confidence
            self._reference.learn(label, confidence, low, seen.features)
        report = self._report_if_due()
        if report is None and trigger is None:
            return _QUIET
        return Verdict(report=report, trigger=trigger)

    def labelled(self, item: str, *, correct: bool) -> None:
        """A person labelled an item of this line: was the label it was served right?"""
        self.changes += 1
        self._outcomes.pop(item, None)
        self._outcomes[item] = correct
        while len(self._outcomes) > self._policy.accuracy_window:
            del self._outcomes[next(iter(self._outcomes))]

    def end_iteration(self, *, repaired: bool = True) -> None:
        """The iteration ended; one that did not repair the line is retried only after a longer
        cooldown, so a drift the system cannot fix never becomes a retrain storm."""
        self.changes += 1
        if self._state is LineState.IN_ITERATION:
            p = self._policy
            self._cool_down(p.cooldown_predictions if repaired else p.retry_cooldown_predictions)

    def release_trigger(self) -> None:
        """The iteration could not start: watch the drop again, confirming it afresh."""
        self.changes += 1
        if self._state is not LineState.IN_ITERATION:
            return
        if self._drop:
            self._out = dict.fromkeys(self._out, 0)
            self._enter(LineState.DEGRADED)
        else:
            self._cool_down()  # a model changed meanwhile and the old drop says nothing about it

    def model_changed(self, replaced: str | None = None) -> None:
        """A new model serves: what the window held says nothing about it, and its confidence
        and the input it now sees are learned afresh as the new normal. Predictions of the
        `replaced` version still to come were judged before the change, and are passed over."""
        self.changes += 1
        self._stale = replaced
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
            "drop": [[dump(s.ref), s.label] for s in self._drop],
            "outcomes": [[item, correct] for item, correct in self._outcomes.items()],
            "out": {str(k): v for k, v in self._out.items()},
            "state": str(self._state),
            "reported_state": str(self._reported_state),
            "counts": [self._predictions, self._in_state, self._since_report, self._cooldown],
            "stale": self._stale,
        }

    @classmethod
    def restore(
        cls, policy: MonitorPolicy, snapshot: Snapshot, load: Callable[[Any], Ref]
    ) -> LineMonitor[Ref]:
        """The line as it was checkpointed: same windows, same state, same counts."""
        line: LineMonitor[Ref] = cls(policy)
        for s in snapshot["window"]:
            line._window.push(_Seen(load(s[0]), s[1], s[2], s[3] if len(s) > 3 else {}))
        saved = snapshot["reference"]
        # A checkpoint from before the label-free signals holds only the label counts.
        line._reference = Reference.restore(
            policy.baseline_predictions, saved if "labels" in saved else {"labels": saved}
        )
        line._drop.extend(_dropped(raw, load) for raw in snapshot["drop"])
        line._outcomes = {item: bool(ok) for item, ok in snapshot.get("outcomes", [])}
        line._out = {Signal(k): v for k, v in snapshot.get("out", {}).items()}
        line._state = LineState(snapshot["state"])
        line._reported_state = LineState(snapshot["reported_state"])
        counts = snapshot["counts"]
        line._predictions, line._in_state, line._since_report, line._cooldown = counts
        line._stale = snapshot.get("stale")
        if line._state in (LineState.DEGRADED, LineState.IN_ITERATION) and not line._out:
            line._out = {Signal.YIELD: line._in_state}  # checkpointed when only yield triggered
        return line

    def _advance(self, seen: _Seen[Ref]) -> Trigger[Ref] | None:
        state, full = self._state, self._window.full
        if (state is LineState.WARMING and full) or state is LineState.HEALTHY:
            self._settle()
        elif state is LineState.DEGRADED:
            return self._watch_drop(seen)
        elif state is LineState.COOLDOWN and self._in_state >= self._cooldown:
            self._settle()
        return None

    def _settle(self) -> None:
        if not self._window.full:
            self._enter(LineState.WARMING)
            return
        out = [r.signal for r in self._readings() if r.out]
        if out:
            self._begin_drop(out)
        elif self._state is not LineState.HEALTHY:
            self._enter(LineState.HEALTHY)

    def _begin_drop(self, out: list[Signal]) -> None:
        self._drop.clear()
        self._drop.extend(self._window)
        self._out = dict.fromkeys(out, 0)
        self._enter(LineState.DEGRADED)

    def _watch_drop(self, seen: _Seen[Ref]) -> Trigger[Ref] | None:
        """Each signal out of bounds counts on until it is back inside by its margin; the one
        out longest (then the first in PRIORITY) fires once it is confirmed and still out."""
        self._drop.append(seen)
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
            samples=[s.ref for s in self._drop],
            served=[s.label for s in self._drop],
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
            readings.append(mix_reading(window.labels, ref, p.signals.mix_shift, p.recover_margin))
        if Signal.CONFIDENCE in enabled and ref.confidence.n >= p.baseline_predictions:
            mean, low = window.mean_confidence, window.low_share
            readings.append(confidence_reading(mean, low, ref, p.signals, p.recover_margin))
        if Signal.INPUT in enabled and ref.features:
            found = input_reading(window.features, window.featured, ref.ready_features(), p.signals)
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
        return self._window.ok_share(self._policy.ok_labels)

    def _report_if_due(self) -> WindowHealth | None:
        self._since_report += 1
        routine = self._window.full and self._since_report >= self._policy.report_every
        if not routine and self._state is self._reported_state:
            return None
        self._since_report, self._reported_state = 0, self._state
        return self._health()

    def _health(self) -> WindowHealth:
        policy, window, reference = self._policy, self._window, self._reference
        shift = (
            total_variation(window.labels, reference.labels) if self.baseline is not None else 0.0
        )
        moved = input_reading(
            window.features, window.featured, reference.ready_features(), policy.signals
        )
        return WindowHealth(
            window_size=len(window),
            yield_rate=self._yield(),
            threshold=self.threshold,
            baseline=self.baseline,
            mean_confidence=window.mean_confidence,
            low_confidence_share=window.low_share,
            mix_shift=shift,
            input_shift=moved.value if moved is not None else None,
            out_of_bounds=tuple(str(s) for s in PRIORITY if s in self._out),
            state=self._state,
            accuracy=(
                sum(self._outcomes.values()) / len(self._outcomes) if self._outcomes else None
            ),
            labelled=len(self._outcomes),
        )


def _dropped(raw: Any, load: Callable[[Any], Ref]) -> _Seen[Ref]:
    """A checkpointed drop sample: [ref, label], or a bare ref from before labels were kept."""
    if isinstance(raw, list) and len(raw) == 2 and isinstance(raw[0], list):
        return _Seen(load(raw[0]), str(raw[1]), 0.0, {})
    return _Seen(load(raw), "", 0.0, {})
