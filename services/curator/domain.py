"""Which recent images become training data: whether the referees can be trusted with them,
splits and dataset versions. (Which of the referees' labels are kept: selection.py.)"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from schemas.datasets import DatasetManifest, ManifestEntry, Split
from services.curator.selection import Labelled, Vote


@dataclass(frozen=True)
class CommitteePolicy:
    val_ratio: float = 0.1
    holdout_ratio: float = 0.2
    merge_with_previous: bool = True
    min_selected: int = 30
    seed: int = 0

    def __post_init__(self) -> None:
        if not (0 <= self.val_ratio < 1 and 0 <= self.holdout_ratio < 1):
            raise ValueError("val_ratio and holdout_ratio must be in [0, 1)")


class NotEnoughSamples(Exception):
    def __init__(self, *, kept: int, needed: int) -> None:
        self.kept, self.needed = kept, needed
        self.reason = f"only {kept} samples survived the committee; at least {needed} are needed"
        super().__init__(self.reason)


def stratified_split(
    items: Sequence[Labelled], *, ratio: float, seed: int
) -> tuple[list[Labelled], list[Labelled]]:
    """(rest, taken): `ratio` of each class taken, the same for a seed whatever the input order."""
    if not 0 <= ratio < 1:
        raise ValueError(f"ratio must be in [0, 1), got {ratio}")
    by_class: defaultdict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(items):
        by_class[item.label].append(index)
    taken: set[int] = set()
    for label, indices in by_class.items():
        indices.sort(key=lambda i: items[i].sha256)
        random.Random(f"{seed}:{label}").shuffle(indices)
        taken.update(indices[: _share(len(indices), ratio)])
    rest = [item for i, item in enumerate(items) if i not in taken]
    return rest, [item for i, item in enumerate(items) if i in taken]


def _share(size: int, ratio: float) -> int:
    if size < 2 or ratio == 0:
        return 0
    return min(max(1, round(size * ratio)), size - 1)


def curate(
    selection_kept: Sequence[Labelled],
    *,
    iteration_id: str,
    previous: DatasetManifest | None,
    classes: Sequence[str],
    policy: CommitteePolicy,
    parent_sha256: str | None = None,
) -> DatasetManifest:
    """The next dataset version: new samples split three ways, merged over the previous set."""
    kept = list({item.sha256: item for item in selection_kept}.values())
    if len(kept) < policy.min_selected:
        raise NotEnoughSamples(kept=len(kept), needed=policy.min_selected)
    unknown = {item.label for item in kept} - set(classes)
    if unknown:
        raise ValueError(f"labels {sorted(unknown)} are not among the classes {list(classes)}")
    rest, holdout = stratified_split(kept, ratio=policy.holdout_ratio, seed=policy.seed)
    train, val = stratified_split(rest, ratio=policy.val_ratio, seed=policy.seed)
    source = f"iteration:{iteration_id}"
    new = [
        *_entries(train, Split.TRAIN, source),
        *_entries(val, Split.VAL, source),
        *_entries(holdout, Split.HOLDOUT, source),
    ]
    carried = (
        _carried(previous, replaced={e.sha256 for e in new}) if policy.merge_with_previous else []
    )
    return DatasetManifest(
        name=f"dataset-{iteration_id}",
        classes=list(classes),
        parent_sha256=parent_sha256,
        entries=[*carried, *new],
    )


def _entries(items: Iterable[Labelled], split: Split, source: str) -> list[ManifestEntry]:
    return [
        ManifestEntry(sha256=i.sha256, uri=i.uri, label=i.label, split=split, source=source)
        for i in items
    ]


def _carried(previous: DatasetManifest | None, *, replaced: set[str]) -> list[ManifestEntry]:
    """Previous training data survives; its holdout and golden sets belong to their own gate."""
    if previous is None:
        return []
    trainable = (Split.TRAIN, Split.VAL)
    return [e for e in previous.entries if e.split in trainable and e.sha256 not in replaced]


@dataclass(frozen=True)
class DepthPolicy:
    """When the referees are out of their depth on the recent images."""

    max_confidence_drop: float  # a referee's mean confidence this far below its golden one
    max_balance_shift: float  # a class's share of a referee's labels this far from golden's...
    balance_alpha: float = 0.001  # ... beyond doubt: a count this unlikely even at that distance


@dataclass(frozen=True)
class RefereeView:
    """One referee's votes on the recent images and on the golden set."""

    name: str
    recent: Sequence[Vote]
    golden: Sequence[Vote]


@dataclass(frozen=True)
class Depth:
    reasons: list[str]
    figures: dict[str, float]

    @property
    def out(self) -> bool:
        return bool(self.reasons)


def depth(
    referees: Sequence[RefereeView], golden_labels: Sequence[str], policy: DepthPolicy
) -> Depth:
    """Out of their depth: the shift that moved the line moves a referee too (its confidence
    falls), or its labels contradict the class balance of the golden set: some class's count
    would be too unlikely (below `balance_alpha`) even if the line's share of that class were
    `max_balance_shift` further from the golden share than it is."""
    truth = _shares(golden_labels)
    reasons: list[str] = []
    figures: dict[str, float] = {}
    for r in referees:
        on_golden = _mean(v.confidence for v in r.golden)
        on_recent = _mean(v.confidence for v in r.recent)
        counts, n = Counter(v.label for v in r.recent), len(r.recent)
        chance = {c: _chance(counts[c], n, p, policy.max_balance_shift) for c, p in truth.items()}
        worst = min(chance, key=lambda c: chance[c]) if chance and n else None
        figures |= {
            f"{r.name}_confidence_golden": on_golden,
            f"{r.name}_confidence_recent": on_recent,
            f"{r.name}_balance_chance": chance[worst] if worst else 1.0,
        }
        if on_golden - on_recent > policy.max_confidence_drop:
            reasons.append(
                f"{r.name}'s mean confidence fell from {on_golden:.3f} on the golden set to"
                f" {on_recent:.3f} on these images"
            )
        if worst is not None and chance[worst] < policy.balance_alpha:
            reasons.append(
                f"{r.name} labels {counts[worst] / n:.0%} of them {worst}, the golden set"
                f" holds {truth[worst]:.0%}"
            )
    return Depth(reasons, figures)


def _chance(k: int, n: int, share: float, tolerance: float) -> float:
    """How likely a count as far as k (of n) is, were the true share `tolerance` closer to it
    than `share`: a one-sided binomial tail."""
    if k < n * share:
        low = share - tolerance
        return 1.0 if low <= 0 else sum(_pmf(i, n, low) for i in range(k + 1))
    high = share + tolerance
    return 1.0 if high >= 1 else sum(_pmf(i, n, high) for i in range(k, n + 1))


def _pmf(k: int, n: int, p: float) -> float:
    log = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
    return math.exp(log + k * math.log(p) + (n - k) * math.log1p(-p))


def _shares(labels: Sequence[str]) -> dict[str, float]:
    counts = Counter(labels)
    return {k: n / len(labels) for k, n in counts.items()} if labels else {}


def _mean(values: Iterable[float]) -> float:
    listed = list(values)
    return sum(listed) / len(listed) if listed else 0.0
