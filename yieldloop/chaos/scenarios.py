"""The faults `yieldloop chaos` injects into a running iteration, one scenario each."""

from __future__ import annotations

import asyncio
import random
import signal
import time
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from schemas import RetrainRequested, TrainingProgressed
from services.common.settings import CommonSettings
from yieldloop.chaos.timeline import Timeline
from yieldloop.fleet import SERVICES, Fleet
from yieldloop.stack.components import component_named

GRACE_S = 5.0  # a crash point right after the last event still fires within this


@dataclass
class Stage:
    """What a fault acts on: the running services, the stack, and the iteration as it unfolds."""

    fleet: Fleet
    settings: CommonSettings
    timeline: Timeline
    rng: random.Random
    fired: bool = False  # the fault really happened (a crash point may never be reached)


class Fault(Protocol):
    def prepare(self, stage: Stage) -> None:
        """Before the line starts."""

    async def during(self, stage: Stage) -> None:
        """While the iteration runs; returns once the system is whole again."""


class NoFault:
    def prepare(self, stage: Stage) -> None:
        stage.fired = True

    async def during(self, stage: Stage) -> None:
        return None


@dataclass(frozen=True)
class CrashAt:
    """The service kills itself (SIGKILL) at a step boundary, then is started again."""

    service: str
    point: str  # "after_effect", "after_publish", ...

    def prepare(self, stage: Stage) -> None:
        arm(stage, self.service, f"{self.service}.{self.point}")

    async def during(self, stage: Stage) -> None:
        """Until the service died at its point; if the scenario ended without it getting there
        (a step the iteration never took), it is disarmed after a grace period."""
        settled_at: float | None = None
        while stage.fleet.alive(self.service):
            if stage.timeline.settled():
                settled_at = settled_at or time.monotonic()
                if time.monotonic() - settled_at > GRACE_S:
                    await asyncio.to_thread(arm, stage, self.service, None)
                    return
            await asyncio.sleep(0.05)
        stage.fired = True
        await asyncio.to_thread(stage.fleet.relaunch, self.service)


def arm(stage: Stage, service: str, point: str | None) -> None:
    """Through the fault-injection route that only chaos runs switch on."""
    reply = httpx.post(f"{stage.fleet.urls[service]}/faults", json={"crash_at": point}, timeout=10)
    reply.raise_for_status()


@dataclass(frozen=True)
class KillAtRandom:
    """kill -9 at a random moment of the iteration (from its request), then a restart."""

    service: str
    within_s: float = 12.0

    def prepare(self, stage: Stage) -> None:
        return None

    async def during(self, stage: Stage) -> None:
        await stage.timeline.first(RetrainRequested)
        await asyncio.sleep(stage.rng.uniform(0, self.within_s))
        await asyncio.to_thread(stage.fleet.kill, self.service)
        stage.fired = True
        await asyncio.to_thread(stage.fleet.relaunch, self.service)


@dataclass(frozen=True)
class StopTrainerGracefully:
    """SIGTERM while the trainer trains: the job is handed back and its MLflow run KILLED."""

    def prepare(self, stage: Stage) -> None:
        return None

    async def during(self, stage: Stage) -> None:
        await stage.timeline.first(TrainingProgressed)
        await asyncio.to_thread(stage.fleet.signal, "trainer", signal.SIGTERM)
        stage.fired = True
        await asyncio.to_thread(stage.fleet.relaunch, "trainer")


@dataclass(frozen=True)
class Outage:
    """A stack component stopped mid-iteration for a while (0 s: a plain restart)."""

    component: str
    down_s: float = 0.0

    def prepare(self, stage: Stage) -> None:
        return None

    async def during(self, stage: Stage) -> None:
        await stage.timeline.first(RetrainRequested)
        await asyncio.sleep(stage.rng.uniform(0.5, 3.0))
        part = component_named(stage.settings, self.component)
        await asyncio.to_thread(part.daemon.stop)
        stage.fired = True
        await asyncio.sleep(self.down_s)
        await asyncio.to_thread(part.up)


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: Fault = field(default_factory=NoFault)
    lines: int = 1
    poison: int = 0  # unparsable records sent among the line's good ones
    random_kill: bool = False  # repeated with other kill points in the full run


def catalog() -> list[Scenario]:
    """Every scenario once: kills at random and at each step boundary of every service, the
    outages, poison in a batch, two lines at once, and a graceful stop mid-training."""
    kills = [
        Scenario(f"kill -9 {s} at random", KillAtRandom(s), random_kill=True) for s in SERVICES
    ]
    boundaries = [
        Scenario(f"kill -9 {s} {point.replace('_', ' ')}", CrashAt(s, point))
        for s in SERVICES
        for point in ("after_effect", "after_publish")
    ]
    return [
        Scenario("no fault"),
        *kills,
        *boundaries,
        Scenario(
            "kill -9 inference after publishing predictions",
            CrashAt("inference", "images_after_publish"),
        ),
        Scenario("trainer stopped gracefully mid-training", StopTrainerGracefully()),
        Scenario("mlflow stopped for 20 s", Outage("mlflow", down_s=20)),
        Scenario("redis restarted", Outage("redis")),
        Scenario("kafka broker restarted", Outage("kafka")),
        Scenario("poison records in a batch", poison=3),
        Scenario("two lines drifting at once", lines=2),
    ]
