"""Which dropped images a person is asked to label: the most informative first, a bounded number
per iteration. Pure rules."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from services.curator.selection import Candidate, Selection, Vote

Reason = Literal["disagreement", "low_confidence"]


@dataclass(frozen=True)
class ReviewPolicy:
    max_items: int  # most requests per iteration
    max_share: float  # most requests as a share of the images dropped

    def __post_init__(self) -> None:
        if self.max_items < 0 or not 0 <= self.max_share <= 1:
            raise ValueError("max_items must be >= 0 and max_share in [0, 1]")

    def limit(self, dropped: int) -> int:
        return min(self.max_items, math.ceil(self.max_share * dropped))


@dataclass(frozen=True)
class ToReview:
    candidate: Candidate
    reason: Reason
    votes: tuple[Vote, Vote]
    informativeness: float


def informativeness(votes: tuple[Vote, Vote]) -> float:
    """Two referees sure of different labels say most about where the model is wrong (above
    1); agreeing referees say more the less sure the surer of them is (below 1)."""
    a, b = votes
    if a.label != b.label:
        return 1.0 + min(a.confidence, b.confidence)
    return 1.0 - min(a.confidence, b.confidence)


def to_review(selection: Selection, policy: ReviewPolicy) -> list[ToReview]:
    """The dropped images to ask a person about, the most informative first."""
    disagree: Reason = "disagreement"
    unsure: Reason = "low_confidence"
    dropped = [
        *((c, disagree) for c in selection.disagreements),
        *((c, unsure) for c in selection.unsure),
    ]
    asks = [
        ToReview(c, reason, selection.votes[c.sha256], informativeness(selection.votes[c.sha256]))
        for c, reason in dropped
        if c.sha256 in selection.votes
    ]
    asks.sort(key=lambda a: (-a.informativeness, a.candidate.sha256))
    return asks[: policy.limit(len(dropped))]
