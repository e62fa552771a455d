"""Which recent images become training data: the referee committee, splits and dataset versions."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from schemas.datasets import DatasetManifest, ManifestEntry, Split


@dataclass(frozen=True)
class Vote:
    label: str
    confidence: float


@dataclass(frozen=True)
class Candidate:
    sha256: str
    uri: str


@dataclass(frozen=True)
class Labelled:
    sha256: str
    uri: str
    label: str
    source: str | None = None  # None: the iteration's referees; "review:<who>" for a person


@dataclass(frozen=True)
class Selection:
    kept: list[Labelled]
    disagreements: list[Candidate]
    unsure: list[Candidate]
    votes: dict[str, tuple[Vote, Vote]] = field(default_factory=dict)  # of each dropped one


@dataclass(frozen=True)
class CommitteePolicy:
    confidence_threshold: float = 0.7
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


def select(
    candidates: Sequence[Candidate],
    b1: Sequence[Vote],
    b2: Sequence[Vote],
    *,
    threshold: float,
) -> Selection:
    """Keep what both referees label alike with confidence; sort the rest by why it was dropped."""
    if not len(candidates) == len(b1) == len(b2):
        raise ValueError(f"{len(candidates)} candidates but {len(b1)} and {len(b2)} votes")
    selection = Selection(kept=[], disagreements=[], unsure=[])
    seen: set[str] = set()
    for candidate, vote1, vote2 in zip(candidates, b1, b2, strict=True):
        if candidate.sha256 in seen:
            continue
        seen.add(candidate.sha256)
        if vote1.label != vote2.label:
            selection.disagreements.append(candidate)
        elif min(vote1.confidence, vote2.confidence) >= threshold:
            selection.kept.append(Labelled(candidate.sha256, candidate.uri, vote1.label))
            continue
        else:
            selection.unsure.append(candidate)
        selection.votes[candidate.sha256] = (vote1, vote2)
    return selection


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
    human: Sequence[Labelled] = (),
) -> DatasetManifest:
    """The next dataset version: new samples split three ways, merged over the previous set.
    A person's label of an image wins over the referees' and over an earlier dataset's."""
    kept = list({item.sha256: item for item in [*selection_kept, *human]}.values())
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
        ManifestEntry(
            sha256=i.sha256, uri=i.uri, label=i.label, split=split, source=i.source or source
        )
        for i in items
    ]


def _carried(previous: DatasetManifest | None, *, replaced: set[str]) -> list[ManifestEntry]:
    """Previous training data survives; its holdout and golden sets belong to their own gate."""
    if previous is None:
        return []
    trainable = (Split.TRAIN, Split.VAL)
    return [e for e in previous.entries if e.split in trainable and e.sha256 not in replaced]
