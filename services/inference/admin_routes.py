"""Admin actions on the live model: reload this replica, roll back, deploy by hand. Each needs
the admin token; the review queue's routes sit beside them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from schemas import Event
from services.common import operator
from services.common.admin import Admin
from services.common.registry import ModelNotFound
from services.common.review_routes import router as review_router
from services.inference import handlers
from services.inference.routes import InferenceDep

E = TypeVar("E", bound=Event)
router = APIRouter(tags=["admin"], responses={401: {}, 403: {}})
router.include_router(review_router)


class RollbackBody(BaseModel):
    reason: str = Field(min_length=1, description="why: kept in the audit log")
    to: str | None = Field(None, description="a version; default: the `previous` alias")


class DeployBody(BaseModel):
    version: str
    reason: str = Field(min_length=1)


@router.post("/admin/reload")
async def reload(actor: Admin, svc: InferenceDep) -> dict[str, Any]:
    """This replica serves the registry's champion again, whatever it served."""
    outcome = await handlers.reload(svc)
    return {"version": svc.model.version.version, "outcome": outcome, "by": actor}


@router.post("/admin/rollback", responses={404: {}, 409: {}})
async def rollback(body: RollbackBody, actor: Admin, svc: InferenceDep) -> dict[str, Any]:
    """Move the champion back (to `previous` unless a version is named); every replica swaps."""
    event = await _moved(
        lambda: operator.rollback(
            svc.registry, svc.model_name, reason=body.reason, actor=actor, to=body.to
        )
    )
    await svc.publish(event)
    return event.model_dump(mode="json")


@router.post("/admin/deploy", responses={404: {}, 409: {}})
async def deploy(body: DeployBody, actor: Admin, svc: InferenceDep) -> dict[str, Any]:
    """Make a newer registered version the champion by hand; every replica swaps."""
    event = await _moved(
        lambda: operator.deploy(
            svc.registry, svc.model_name, body.version, reason=body.reason, actor=actor
        )
    )
    await svc.publish(event)
    return event.model_dump(mode="json")


async def _moved(move: Callable[[], E]) -> E:
    """The operator's move, run off the event loop; a refusal is a 409 saying why."""
    try:
        return await asyncio.to_thread(move)
    except ModelNotFound as exc:
        raise HTTPException(404, f"no such version: {exc}") from None
    except operator.Refused as exc:
        raise HTTPException(409, str(exc)) from None
