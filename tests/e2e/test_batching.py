"""Batching loses nothing: N images in, N predictions out, each exactly once, across a broker
restart in the middle of the stream, and with two inference replicas sharing one group."""

from __future__ import annotations

import asyncio
import re
import uuid

import httpx
import pytest

from schemas import utcnow
from services.common.settings import CommonSettings
from tests.e2e.conftest import System
from yieldloop import stack
from yieldloop.chaos.measure import Window, facts_of, records, unjudged
from yieldloop.produce import produce
from yieldloop.sources import demo_items

pytestmark = pytest.mark.e2e
RATE = 400.0  # parts per second: batches fill, the broker restarts mid-batch


async def send(settings: CommonSettings, line: str, count: int) -> int:
    source = demo_items(seed=5, drift_after=None)
    return await produce(settings, source=source, line_id=line, rate=RATE, count=count, truth=None)


async def judged_once(settings: CommonSettings, window: Window, count: int) -> tuple[int, int]:
    """(images of the line, images without exactly one prediction), once all are judged."""
    async with asyncio.timeout(240):
        while True:
            events, _ = facts_of(await records(settings, window), window)
            submitted = sum(e.event_type == "ImageSubmitted" for e in events)
            missing = unjudged(events)
            if submitted == count and missing == 0:
                return submitted, missing
            await asyncio.sleep(2)


def test_every_image_is_judged_once_across_a_broker_restart(system: System) -> None:
    line, count = f"batch-{uuid.uuid4().hex[:6]}", 3000
    window = Window([line], utcnow())

    async def stream() -> None:
        sending = asyncio.create_task(send(system.settings, line, count))
        await asyncio.sleep(count / RATE / 2)
        await asyncio.to_thread(stack.restart, system.settings, "kafka")
        assert await sending == count

    asyncio.run(stream())

    assert asyncio.run(judged_once(system.settings, window, count)) == (count, 0)


def judged_by(url: str) -> float:
    metrics = httpx.get(f"{url}/metrics/", timeout=10).text
    found = re.findall(
        r'yieldloop_predictions_total\{label="\w+",source="stream"\} ([0-9.e+]+)', metrics
    )
    return sum(float(n) for n in found)


def test_two_replicas_share_the_work_and_judge_nothing_twice(system: System) -> None:
    line, count = f"pair-{uuid.uuid4().hex[:6]}", 2000
    window = Window([line], utcnow())
    with system.fleet.replica(2) as second:
        before = judged_by(system.inference_url), judged_by(second)
        assert asyncio.run(send(system.settings, line, count)) == count
        assert asyncio.run(judged_once(system.settings, window, count)) == (count, 0)
        after = judged_by(system.inference_url), judged_by(second)

    first_share, second_share = (a - b for a, b in zip(after, before, strict=True))
    assert first_share > 0 and second_share > 0
    assert first_share + second_share == count
