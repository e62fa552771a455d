"""Which of the referees' labels are kept: three rules, chosen in config.

- `agreement_confidence` (the seed's): B1 and B2 agree and both are at least so confident;
- `margin`: of the images both label alike, each class keeps its share with the widest
  committee margin (no absolute cut, so a class the referees are less sure of is not wiped out);
- `class_balanced`: the seed's rule, then no class may exceed a share of what is kept (a drift
  that mostly produces one label cannot flood the dataset); the least sure go first.

Each rule returns its figures as well, for the dataset's MLflow run."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

Figures = dict[str, float]


class Rule(StrEnum):
    AGREEMENT_CONFIDENCE = "agreement_confidence"
    MARGIN = "margin"
    CLASS_BALANCED = "class_balanced"


@dataclass(frozen=True)
class Vote:
    """One referee's answer for one image. The margin is its top probability less the runner-up;
    left out, it is taken as 2 * confidence - 1, exact for two classes and a floor otherwise."""

    label: str
    confidence: float
    margin: float | None = None

    @property
    def gap(self) -> float:
        return self.margin if self.margin is not None else 2 * self.confidence - 1


@dataclass(frozen=True)
class Candidate:
    sha256: str
    uri: str


@dataclass(frozen=True)
class Labelled:
    sha256: str
    uri: str
    label: str


@dataclass(frozen=True)
class Selection:
    kept: list[Labelled]
    disagreements: list[Candidate]
    unsure: list[Candidate]  # agreed, but dropped by the rule
    figures: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SelectionPolicy:
    rule: Rule
    confidence_threshold: float  # agreement_confidence and class_balanced
    margin_share: float  # margin: share of each class's agreed images kept
    max_class_share: float  # class_balanced: largest share of the kept set one class may hold

    def __post_init__(self) -> None:
        if not (0 < self.margin_share <= 1 and 0.5 <= self.max_class_share <= 1):
            raise ValueError("margin_share must be in (0, 1] and max_class_share in [0.5, 1]")


@dataclass(frozen=True)
class _Agreed:
    candidate: Candidate
    label: str
    confidence: float  # the less confident referee's
    margin: float  # the committee margin: the narrower referee's

    def labelled(self) -> Labelled:
        return Labelled(self.candidate.sha256, self.candidate.uri, self.label)


def select(
    candidates: Sequence[Candidate],
    b1: Sequence[Vote],
    b2: Sequence[Vote],
    *,
    policy: SelectionPolicy,
) -> Selection:
    """Each image once; those the referees label differently are never kept."""
    if not len(candidates) == len(b1) == len(b2):
        raise ValueError(f"{len(candidates)} candidates but {len(b1)} and {len(b2)} votes")
    agreed: list[_Agreed] = []
    disagreements: list[Candidate] = []
    seen: set[str] = set()
    for candidate, vote1, vote2 in zip(candidates, b1, b2, strict=True):
        if candidate.sha256 in seen:
            continue
        seen.add(candidate.sha256)
        if vote1.label != vote2.label:
            disagreements.append(candidate)
        else:
            low = min(vote1.confidence, vote2.confidence)
            agreed.append(_Agreed(candidate, vote1.label, low, min(vote1.gap, vote2.gap)))
    kept, figures = _RULES[policy.rule](agreed, policy)
    chosen = {id(a) for a in kept}
    return Selection(
        kept=[a.labelled() for a in kept],
        disagreements=disagreements,
        unsure=[a.candidate for a in agreed if id(a) not in chosen],
        figures={"agreed": float(len(agreed)), **figures, **_per_class(kept, agreed)},
    )


def _confident(agreed: list[_Agreed], policy: SelectionPolicy) -> tuple[list[_Agreed], Figures]:
    return [a for a in agreed if a.confidence >= policy.confidence_threshold], {}


def _widest_margins(
    agreed: list[_Agreed], policy: SelectionPolicy
) -> tuple[list[_Agreed], Figures]:
    by_class: defaultdict[str, list[_Agreed]] = defaultdict(list)
    for a in agreed:
        by_class[a.label].append(a)
    kept: set[int] = set()
    figures: Figures = {}
    for label, group in sorted(by_class.items()):
        ranked = sorted(group, key=lambda a: (-a.margin, a.candidate.sha256))
        top = ranked[: math.ceil(len(ranked) * policy.margin_share)]
        kept.update(id(a) for a in top)
        figures[f"margin_cut_{label}"] = top[-1].margin
    return [a for a in agreed if id(a) in kept], figures


def _capped(agreed: list[_Agreed], policy: SelectionPolicy) -> tuple[list[_Agreed], Figures]:
    confident, _ = _confident(agreed, policy)
    counts = Counter(a.label for a in confident)
    if not counts:
        return confident, {"capped": 0.0}
    label, biggest = counts.most_common(1)[0]
    others = len(confident) - biggest
    cap = policy.max_class_share
    allowed = biggest if cap >= 1 else min(biggest, math.floor(others * cap / (1 - cap)))
    ranked = sorted(
        (a for a in confident if a.label == label), key=lambda a: (-a.margin, a.candidate.sha256)
    )
    dropped = {id(a) for a in ranked[allowed:]}
    return [a for a in confident if id(a) not in dropped], {"capped": float(len(dropped))}


_RULES = {
    Rule.AGREEMENT_CONFIDENCE: _confident,
    Rule.MARGIN: _widest_margins,
    Rule.CLASS_BALANCED: _capped,
}


def _per_class(kept: list[_Agreed], agreed: list[_Agreed]) -> Figures:
    """How many of each agreed-on class were kept (0 for a class the rule dropped entirely)."""
    counts = Counter(a.label for a in kept)
    return {f"kept_{label}": float(counts[label]) for label in sorted({a.label for a in agreed})}
