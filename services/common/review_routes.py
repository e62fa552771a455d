"""The review queue over HTTP, served alike by inference and the dashboard: the queue is open
to read; an answer is an admin action (Bearer token)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from services.common.admin import Admin
from services.common.kafka import Publish
from services.common.review import ReviewLog, UnknownItem, UnknownLabel, as_json

router = APIRouter(tags=["review"])


class Answer(BaseModel):
    label: str = Field(min_length=1, description="one of the request's classes")
    note: str = ""


async def reviews_of(request: Request) -> ReviewLog:
    reviews: ReviewLog = request.app.state.reviews
    return reviews


async def publish_of(request: Request) -> Publish:
    publish: Publish = request.app.state.publish
    return publish


ReviewsDep = Annotated[ReviewLog, Depends(reviews_of)]
PublishDep = Annotated[Publish, Depends(publish_of)]


@router.get("/review")
async def review_queue(reviews: ReviewsDep, limit: int = 50) -> dict[str, Any]:
    """Images waiting for a person's label, the most informative first."""
    queue = await reviews.queue()
    pending = queue.pending()
    return {"pending": len(pending), "items": [as_json(r) for r in pending[:limit]]}


@router.post("/review/{item}", responses={401: {}, 403: {}, 404: {}, 422: {}})
async def answer(
    item: str, body: Answer, actor: Admin, reviews: ReviewsDep, publish: PublishDep
) -> dict[str, Any]:
    """Label one requested image (LabelProvided); it joins the next dataset."""
    queue = await reviews.queue()
    try:
        given = queue.answer(
            item, label=body.label, reviewer=actor, note=body.note, producer="review"
        )
    except UnknownItem as exc:
        raise HTTPException(404, str(exc)) from None
    except UnknownLabel as exc:
        raise HTTPException(422, str(exc)) from None
    await publish(given)
    return {"item": item, "label": given.label, "reviewer": actor, "event_id": str(given.event_id)}
