"""The health signals of one line, each read from its recent window against a reference.

Yield needs nothing but the labels. The label-free signals compare the window with what the line
looked like when it was healthy: the label mix, the serving model's confidence, and the input
itself (a few statistics per image). Each reading says whether the signal is out of bounds now
and whether it is back inside by the hysteresis margin."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

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


@dataclass(frozen=True)
class Reading:
    signal: Signal
    value: float
    limit: float
    out: bool  # beyond the limit now
    recovered: bool  # inside the limit by the hysteresis margin
    says: str  # how the reason for a trigger reads, e.g. "yield 0.400 below 0.700"


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

    def learn(
        self, label: str, confidence: float, low: bool, features: Mapping[str, float]
    ) -> None:
        if self.labels.total() < self.size:
            self.labels[label] += 1
        if self.confidence.n < self.size:
            self.confidence.add(confidence)
            self.low.add(float(low))
        for name, value in features.items():
            moments = self.features.setdefault(name, Moments())
            if moments.n < self.size:
                moments.add(value)

    def forget_model(self) -> None:
        self.confidence, self.low, self.features = Moments(), Moments(), {}

    def ready_features(self) -> dict[str, Moments]:
        return {k: m for k, m in self.features.items() if m.n >= self.size}

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
    labels = set(mix) | set(reference)
    return sum(abs(mix.get(k, 0) / n_mix - reference.get(k, 0) / n_ref) for k in labels) / 2


def yield_reading(rate: float, threshold: float, margin: float) -> Reading:
    return Reading(
        Signal.YIELD,
        rate,
        threshold,
        out=rate < threshold,
        recovered=rate >= threshold + margin,
        says=f"yield {rate:.3f} below {threshold:.3f}",
    )


def mix_reading(labels: Counter[str], ref: Reference, limit: float, margin: float) -> Reading:
    shift = total_variation(labels, ref.labels)
    return Reading(
        Signal.MIX,
        shift,
        limit,
        out=shift > limit,
        recovered=shift <= limit - margin,
        says=f"label mix shift {shift:.3f} above {limit:.3f}",
    )


def confidence_reading(
    confidences: Sequence[float], low_below: float, ref: Reference, p: SignalPolicy, margin: float
) -> Reading:
    mean = sum(confidences) / len(confidences)
    low = sum(c < low_below for c in confidences) / len(confidences)
    floor, ceiling = ref.confidence.mean - p.confidence_drop, ref.low.mean + p.low_confidence_rise
    fell, rose = mean < floor, low > ceiling
    says = (
        f"low-confidence share {low:.3f} above {ceiling:.3f}"
        if rose and not fell
        else f"mean confidence {mean:.3f} below {floor:.3f}"
    )
    return Reading(
        Signal.CONFIDENCE,
        low if rose and not fell else mean,
        ceiling if rose and not fell else floor,
        out=fell or rose,
        recovered=mean >= floor + margin and low <= ceiling - margin,
        says=says,
    )


def input_reading(
    windows: Sequence[Mapping[str, float]], reference: Mapping[str, Moments], p: SignalPolicy
) -> Reading | None:
    """The feature whose window mean moved furthest from its reference, in reference spreads."""
    shifts: dict[str, float] = {}
    for name, moments in reference.items():
        values = [w[name] for w in windows if name in w]
        if values:
            shifts[name] = abs(sum(values) / len(values) - moments.mean) / moments.spread
    if not shifts:
        return None
    name = max(shifts, key=lambda k: shifts[k])
    shift = shifts[name]
    return Reading(
        Signal.INPUT,
        shift,
        p.input_shift,
        out=shift > p.input_shift,
        recovered=shift <= p.input_shift - p.input_recover_margin,
        says=f"input shift {shift:.2f} spreads ({name}) above {p.input_shift:g}",
    )
