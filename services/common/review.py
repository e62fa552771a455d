"""The review queue: images the referees could not label, waiting for a person. It is a
projection of two pipeline topics (ReviewRequested, LabelProvided), read back from Kafka when
asked, so every reader (inference, dashboard, terminal, curator) sees the same queue and
nothing of it lives anywhere else."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from schemas import Event, LabelProvided, ReviewRequested, topic_for
from services.common.history import read_events
from services.common.settings import CommonSettings

REVIEW_TOPICS = (topic_for(ReviewRequested), topic_for(LabelProvided))


class UnknownItem(LookupError):
    pass


class UnknownLabel(ValueError):
    pass


@dataclass
class ReviewQueue:
    requested: dict[str, ReviewRequested] = field(default_factory=dict)  # by item, latest
    labelled: dict[str, LabelProvided] = field(default_factory=dict)  # by item, latest

    @classmethod
    def of(cls, events: Iterable[Event]) -> ReviewQueue:
        queue = cls()
        for event in sorted(events, key=lambda e: e.occurred_at):
            queue.add(event)
        return queue

    def add(self, event: Event) -> None:
        if isinstance(event, ReviewRequested):
            self.requested[event.item] = event
        elif isinstance(event, LabelProvided):
            self.labelled[event.item] = event

    def pending(self, limit: int | None = None) -> list[ReviewRequested]:
        """Unanswered requests, the most informative first."""
        waiting = [r for item, r in self.requested.items() if item not in self.labelled]
        waiting.sort(key=lambda r: (-r.informativeness, r.occurred_at))
        return waiting[:limit]

    def answer(
        self, item: str, *, label: str, reviewer: str, note: str = "", producer: str
    ) -> LabelProvided:
        """The label a person gives one requested item (a later label replaces an earlier)."""
        request = self.requested.get(item)
        if request is None:
            raise UnknownItem(f"no review was requested for item {item!r}")
        if label not in request.classes:
            raise UnknownLabel(f"label {label!r} is not one of {request.classes}")
        return LabelProvided(
            producer=producer,
            correlation_id=request.iteration_id,
            causation_id=request.event_id,
            iteration_id=request.iteration_id,
            line_id=request.line_id,
            item=item,
            image=request.image,
            label=label,
            reviewer=reviewer,
            served_label=request.served_label,
            note=note,
        )


class ReviewLog(Protocol):
    async def queue(self) -> ReviewQueue:
        """The queue as the topics hold it now."""


class KafkaReviewLog:
    def __init__(self, settings: CommonSettings) -> None:
        self.settings = settings

    async def queue(self) -> ReviewQueue:
        return ReviewQueue.of(await read_events(self.settings, REVIEW_TOPICS))


class InMemoryReviewLog:
    def __init__(self, events: Iterable[Event] = ()) -> None:
        self.events = list(events)

    async def queue(self) -> ReviewQueue:
        return ReviewQueue.of(self.events)


def as_json(request: ReviewRequested) -> dict[str, object]:
    """What a reviewer needs to see of one request (the image is fetched by its URI)."""
    return {
        "item": request.item,
        "iteration_id": request.iteration_id,
        "line_id": request.line_id,
        "reason": request.reason,
        "informativeness": round(request.informativeness, 4),
        "votes": [v.model_dump() for v in request.votes],
        "served_label": request.served_label,
        "classes": request.classes,
        "image_uri": request.image.uri,
        "requested_at": request.occurred_at.isoformat(),
    }
