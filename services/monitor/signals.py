"""The health signals of one line, each read from its recent window against a reference.

Yield needs nothing but the labels. The label-free signals compare the window with what the line
looked like when it was healthy: the label mix, the serving model's confidence, and the input
itself (a few statistics per image). Each reading says whether the signal is out of bounds now
and whether it is back inside by the hysteresis margin."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

# A feature whose reference barely moves (a background that is always black) would make any
# flicker look like a shift: its spread counts as at least this much.
MIN_SPREAD = 0.01


class Signal(StrEnum):
    YIELD = "yield"
    MIX = "mix"
    CONFIDENCE = "confidence"
    INPUT = "input"


PRIORITY = tuple(Signal)  # which signal is named when several confirm at once


@dataclass(frozen=True)
class SignalPolicy:
    """Which signals may open an iteration, and where each one is out of bounds."""

    enabled: frozenset[Signal]
    mix_shift: float  # total variation of the label mix from the reference
    confidence_drop: float  # mean confidence this far below the reference
    low_confidence_rise: float  # low-confidence share this far above the reference
    input_shift: float  # a feature's window mean this many reference spreads away
    input_recover_margin: float  # back inside only this far below input_shift

    def __post_init__(self) -> None:
        if self.input_recover_margin >= self.input_shift:
            raise ValueError("input_recover_margin must be below input_shift")


class Reading(NamedTuple):
    """Read for every prediction, and almost always thrown away: cheap to build, its reason
    written out only when asked for."""

    signal: Signal
    value: float
    limit: float
    out: bool  # beyond the limit now
    recovered: bool  # inside the limit by the hysteresis margin
    template: str  # the reason for a trigger, filled with `args`
    args: tuple[Any, ...]

    @property
    def says(self) -> str:
        """How the reason for a trigger reads, e.g. "yield 0.400 below 0.700"."""
        return self.template.format(*self.args)


@dataclass
class Moments:
    """Count, sum and sum of squares of one number, for its mean and spread."""

    n: int = 0
    total: float = 0.0
    squares: float = 0.0

    def add(self, value: float) -> None:
        self.n, self.total, self.squares = self.n + 1, self.total + value, self.squares + value**2

    @property
    def mean(self) -> float:
        return self.total / self.n

    @property
    def spread(self) -> float:
        variance = max(self.squares / self.n - self.mean**2, 0.0)
        return max(math.sqrt(variance), MIN_SPREAD)


@dataclass
class Reference:
    """The healthy line, learned from its first `size` predictions. The label mix describes the
    line and is kept; confidence and input are learned again whenever a new model serves (the
    line it serves may look different now, and that is the new normal)."""

    size: int
    labels: Counter[str] = field(default_factory=Counter)
    confidence: Moments = field(default_factory=Moments)
    low: Moments = field(default_factory=Moments)
    features: dict[str, Moments] = field(default_factory=dict)
    # Each feature's mean and spread once learned: read for every prediction, computed once.
    _ready: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for name, moments in self.features.items():
            if moments.n >= self.size:
                self._ready[name] = (moments.mean, moments.spread)

    def learn(
        self, label: str, confidence: float, low: bool, features: Mapping[str, float]
    ) -> None:
        if self.labels.total() < self.size:
            self.labels[label] += 1
        if self.confidence.n < self.size:
            self.confidence.add(confidence)
            self.low.add(float(low))
        if features.keys() <= self._ready.keys():  # every feature learned: the usual case
            return
        for name, value in features.items():
            if name in self._ready:
                continue
            moments = self.features.setdefault(name, Moments())
            moments.add(value)
            if moments.n >= self.size:
                self._ready[name] = (moments.mean, moments.spread)

    def forget_model(self) -> None:
        self.confidence, self.low, self.features, self._ready = Moments(), Moments(), {}, {}

    def ready_features(self) -> Mapping[str, tuple[float, float]]:
        """Mean and spread of each feature learned in full."""
        return self._ready

    def snapshot(self) -> dict[str, Any]:
        moments = {"confidence": self.confidence, "low": self.low, **self.features}
        return {
            "labels": dict(self.labels),
            "moments": {k: [m.n, m.total, m.squares] for k, m in moments.items()},
            "features": sorted(self.features),
        }

    @classmethod
    def restore(cls, size: int, saved: Mapping[str, Any]) -> Reference:
        moments = {k: Moments(*v) for k, v in saved.get("moments", {}).items()}
        return cls(
            size,
            labels=Counter(saved["labels"]),
            confidence=moments.get("confidence", Moments()),
            low=moments.get("low", Moments()),
            features={k: moments[k] for k in saved.get("features", [])},
        )


def total_variation(mix: Mapping[str, int], reference: Mapping[str, int]) -> float:
    """Distance between two label mixes given as counts: 0 when alike, 1 when disjoint."""
    n_mix, n_ref = sum(mix.values()), sum(reference.values())
    distance = 0.0
    for label, n in mix.items():
        distance += abs(n / n_mix - reference[label] / n_ref) if label in reference else n / n_mix
    for label, n in reference.items():
        if label not in mix:
            distance += n / n_ref
    return distance / 2


def yield_reading(rate: float, threshold: float, margin: float) -> Reading:
    return Reading(
        Signal.YIELD,
        rate,
        threshold,
        out=rate < threshold,
        recovered=rate >= threshold + margin,
        template="yield {:.3f} below {:.3f}",
        args=(rate, threshold),
    )


def mix_reading(labels: Counter[str], ref: Reference, limit: float, margin: float) -> Reading:
    shift = total_variation(labels, ref.labels)
    return Reading(
        Signal.MIX,
        shift,
        limit,
        out=shift > limit,
        recovered=shift <= limit - margin,
        template="label mix shift {:.3f} above {:.3f}",
        args=(shift, limit),
    )


def confidence_reading(
    mean: float, low: float, ref: Reference, p: SignalPolicy, margin: float
) -> Reading:
    """The window's mean confidence and low-confidence share against the reference's."""
    floor, ceiling = ref.confidence.mean - p.confidence_drop, ref.low.mean + p.low_confidence_rise
    fell, rose = mean < floor, low > ceiling
    value, limit = (low, ceiling) if rose and not fell else (mean, floor)
    return Reading(
        Signal.CONFIDENCE,
        value,
        limit,
        out=fell or rose,
        recovered=mean >= floor + margin and low <= ceiling - margin,
        template=(
            "low-confidence share {:.3f} above {:.3f}"
            if rose and not fell
            else "mean confidence {:.3f} below {:.3f}"
        ),
        args=(value, limit),
    )


def input_reading(
    sums: Mapping[str, float],
    counts: Mapping[str, int],
    reference: Mapping[str, tuple[float, float]],
    p: SignalPolicy,
) -> Reading | None:
    """The feature whose window mean (its sum over how many carry it) moved furthest from its
    reference (mean and spread per feature), in reference spreads; the first of equals."""
    name: str | None = None
    shift = 0.0
    for candidate, (mean, spread) in reference.items():
        n = counts.get(candidate)
        if n:
            moved = abs(sums[candidate] / n - mean) / spread
            if name is None or moved > shift:
                name, shift = candidate, moved
    if name is None:
        return None
    return Reading(
        Signal.INPUT,
        shift,
        p.input_shift,
        out=shift > p.input_shift,
        recovered=shift <= p.input_shift - p.input_recover_margin,
        template="input shift {:.2f} spreads ({}) above {:g}",
        args=(shift, name, p.input_shift),
    )
