"""The curator's side of the review queue: where each candidate came from and what it was
served, the requests for the dropped images worth a person's look, and the labels people gave."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from schemas import (
    Event,
    ImageRef,
    LabelProvided,
    RefereeVote,
    RetrainQueued,
    RetrainRequested,
    ReviewRequested,
    stable_id,
)
from services.common.registry import ModelVersion
from services.curator.bootstrap import Curator
from services.curator.reviews import to_review
from services.curator.selection import Labelled, Selection

PRODUCER = "curator"


@dataclass(frozen=True)
class Sample:
    ref: ImageRef
    line_id: str
    served: str | None  # the label the serving model gave it on the line


def samples(event: RetrainRequested, joined: list[RetrainQueued]) -> list[Sample]:
    """The iteration's own images, then those of the drops that joined it, each once, with the
    line each came from and the label it was served."""
    unique: dict[str, Sample] = {}
    origins: list[RetrainRequested | RetrainQueued] = [event, *joined]
    for origin in origins:
        for ref in origin.images:
            if ref.uri is not None and ref.sha256 not in unique:
                unique[ref.sha256] = Sample(ref, origin.line_id, origin.served.get(ref.sha256))
    return list(unique.values())


def human_labels(labels: Iterable[LabelProvided]) -> list[Labelled]:
    return [
        Labelled(p.item, p.image.uri, p.label, source=f"review:{p.reviewer}")
        for p in labels
        if p.image.uri is not None
    ]


def review_requests(
    event: RetrainRequested,
    found: list[Sample],
    selection: Selection,
    base: ModelVersion,
    c: Curator,
) -> list[Event]:
    """One request per dropped image worth a person's look, with both referees' votes."""
    by_sha = {s.ref.sha256: s for s in found}
    asks: list[Event] = []
    for ask in to_review(selection, c.config.review_policy()):
        sample = by_sha[ask.candidate.sha256]
        asks.append(
            ReviewRequested(
                event_id=stable_id("review", event.iteration_id, ask.candidate.sha256),
                producer=PRODUCER,
                **event.caused(),
                iteration_id=event.iteration_id,
                line_id=sample.line_id,
                item=ask.candidate.sha256,
                image=sample.ref.without_data(),
                reason=ask.reason,
                votes=[
                    RefereeVote(referee=name, label=vote.label, confidence=vote.confidence)
                    for name, vote in zip(c.referee_names, ask.votes, strict=True)
                ],
                informativeness=ask.informativeness,
                classes=list(base.classes),
                served_label=sample.served,
                champion_version=base.version,
            )
        )
    return asks
