"""Fault injection for `yieldloop chaos`: the process kills itself (SIGKILL, as `kill -9` would)
at a named point. Armed only when the settings name a point; a no-op otherwise."""

from __future__ import annotations

import os
import signal
import sys

from fastapi import APIRouter
from pydantic import BaseModel

_armed: str | None = None


def arm(point_name: str | None) -> None:
    global _armed
    _armed = point_name


def point(name: str) -> None:
    """A step boundary: `<service>.after_effect` (the side effect is done, nothing published) or
    `<service>.after_publish` (published, the record not yet committed)."""
    if _armed == name:
        print(f"fault injection: killed at {name}", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)


class Arming(BaseModel):
    crash_at: str | None


router = APIRouter(tags=["fault injection"])


@router.post("/faults")
async def arm_at_run_time(arming: Arming) -> Arming:
    """Arm (or disarm, with null) the crash point; served only when faults are enabled."""
    arm(arming.crash_at)
    return Arming(crash_at=_armed)
