"""Playing one scenario: a fresh line (or two) drifts, the fault strikes mid-iteration, the
system is left to finish, and the topics are counted."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

from schemas import Event, ModelApproved, topic_for, utcnow
from schemas import ImageSubmitted as Submitted
from services.common.history import PIPELINE
from services.common.kafka import make_broker, publisher
from services.common.models import registry_from
from services.common.registry import CHAMPION
from services.common.settings import CommonSettings
from yieldloop.chaos.measure import Row, Window, records, tally
from yieldloop.chaos.scenarios import Scenario, Stage
from yieldloop.chaos.timeline import Timeline
from yieldloop.fleet import REPLICA, Fleet
from yieldloop.produce import produce
from yieldloop.sources import demo_items
from yieldloop.watch import Watcher


@dataclass(frozen=True)
class Pace:
    rate: float = 200.0  # parts per second until the line asks for an iteration
    # ... then this: the fault still meets a running line, and the training that follows is not
    # starved of the machine by a line it does not need (a refused candidate is not retried
    # within the scenario: the retry pause outlasts it)
    steady_rate: float = 50.0
    warmup_s: float = 2.0  # clean parts before the drift (a baseline needs 100, a window 29)
    after_s: float = 2.0  # parts judged once the iteration ended
    timeout_s: float = 240.0  # the iteration must have ended by then
    settle_s: float = 90.0  # every image must be judged by then


def reset_champion(settings: CommonSettings, fleet: Fleet, base: str = "1") -> str:
    """The first champion serves again, deployed as an operator would: registered as a new
    version (replicas only swap forward) and approved with a reason, so the next line's drift
    hurts it as it hurt the first."""
    registry, name = registry_from(settings), settings.mlflow.model_name
    first, serving = registry.get(name, base), registry.by_alias(name, CHAMPION)
    tags = {
        k: v for k, v in first.tags.items() if k.endswith("manifest_uri") or k == "manifest_sha256"
    }
    copy = registry.register(
        name, registry.weights(first), arch=first.arch, classes=first.classes, tags=tags
    )
    registry.set_alias(name, CHAMPION, copy.version)
    deploy = f"reset-{uuid.uuid4().hex[:8]}"
    approved = ModelApproved(
        producer="chaos",
        correlation_id=deploy,
        iteration_id=deploy,
        line_id="chaos",
        model_name=name,
        version=copy.version,
        previous_version=serving.version if serving else None,
        scores={},
    )
    asyncio.run(_publish(settings, approved))
    _wait_serving(fleet.inference_url, copy.version)
    return copy.version


async def _publish(settings: CommonSettings, event: ModelApproved) -> None:
    async with make_broker(settings, client_id="chaos") as broker:
        await publisher(broker)(event)


def _wait_serving(url: str, version: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/model", timeout=5).json()["version"] == version:
                return
        time.sleep(0.2)
    raise TimeoutError(f"inference did not serve v{version} within {timeout_s:.0f} s")


async def play(
    scenario: Scenario, *, fleet: Fleet, settings: CommonSettings, pace: Pace, seed: int
) -> Row:
    await asyncio.to_thread(reset_champion, settings, fleet)
    tag = uuid.uuid4().hex[:6]
    lines = [f"chaos-{k}-{tag}" for k in range(scenario.lines)]
    timeline = Timeline(replica=REPLICA)
    stage = Stage(fleet, settings, timeline, random.Random(seed))
    await asyncio.to_thread(scenario.fault.prepare, stage)
    window = Window(lines, utcnow())
    async with Watcher(settings, line_id=lines, topics=list(PIPELINE)) as watcher:
        stream = watcher.events()
        stop = asyncio.Event()
        feeding = [
            asyncio.create_task(_line(settings, line, pace, stop, seed + i, timeline))
            for i, line in enumerate(lines)
        ]
        fault = asyncio.create_task(scenario.fault.during(stage))
        poison = asyncio.create_task(_poison(settings, lines[0], scenario.poison, pace))
        await _follow(stream, timeline, fault, pace)
        stop.set()
        await asyncio.gather(*feeding, poison)
        # The lines are quiet now: an iteration that opened at the last moment is followed to
        # its end, and no other can open.
        await _follow(stream, timeline, fault, pace)
        await _finish(fault)
    return await _settled(settings, scenario, window, stage, pace)


async def _line(
    settings: CommonSettings,
    line: str,
    pace: Pace,
    stop: asyncio.Event,
    seed: int,
    timeline: Timeline,
) -> None:
    """At `rate` until the line asked for an iteration (or the scenario ends), then at
    `steady_rate` until `stop`: one source, so the parts go on where they were."""
    source = demo_items(seed=seed, drift_after=int(pace.rate * pace.warmup_s))
    asked = asyncio.Event()
    watches = [
        asyncio.create_task(timeline.wait_for(lambda: timeline.asked(line))),
        asyncio.create_task(stop.wait()),
    ]
    for watch in watches:
        watch.add_done_callback(lambda _: asked.set())
    try:
        for rate, until in ((pace.rate, asked), (pace.steady_rate, stop)):
            await produce(
                settings,
                source=source,
                line_id=line,
                rate=rate,
                count=None,
                truth=None,
                stop=until,
            )
    finally:
        for watch in watches:
            watch.cancel()


async def _follow(
    stream: AsyncIterator[Event | None],
    timeline: Timeline,
    fault: asyncio.Task[None],
    pace: Pace,
) -> None:
    """Until every iteration of the lines ended and the fault is over, plus `after_s`. An
    iteration that opens meanwhile (a line a refused candidate left degraded asks again after
    its retry pause) is followed to its end too, or it would be counted unfinished."""
    started, ended_at = time.monotonic(), None
    async for event in stream:
        if event is not None and not isinstance(event, Submitted):
            timeline.add(event)
        now = time.monotonic()
        whole = timeline.settled() and fault.done()
        ended_at = (ended_at or now) if whole else None
        if ended_at is not None and now - ended_at >= pace.after_s:
            return
        if now - started > pace.warmup_s + pace.timeout_s:
            return


async def _finish(fault: asyncio.Task[None]) -> None:
    if not fault.done():
        fault.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await fault


async def _poison(settings: CommonSettings, line: str, count: int, pace: Pace) -> None:
    """Unparsable records among the good ones, sent once the line has drifted."""
    if not count:
        return
    await asyncio.sleep(pace.warmup_s + 1)
    async with make_broker(settings, client_id="chaos-poison") as broker:
        for i in range(count):
            body = b'{"event_type": "ImageSubmitted", "line_id": "%s", "broken": %d' % (
                line.encode(),
                i,
            )
            await broker.publish(body, topic_for(Submitted), key=line.encode())
            await asyncio.sleep(0.2)


async def _settled(
    settings: CommonSettings, scenario: Scenario, window: Window, stage: Stage, pace: Pace
) -> Row:
    """Counted once every image of the lines is judged, or when `settle_s` has passed."""
    deadline = time.monotonic() + pace.settle_s
    while True:
        row = tally(
            scenario.name,
            window,
            await records(settings, window),
            poison_sent=scenario.poison,
            fired=stage.fired,
        )
        if row.predictions_lost == 0 or time.monotonic() > deadline:
            return row
        await asyncio.sleep(2)
