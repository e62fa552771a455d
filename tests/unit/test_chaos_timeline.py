"""What a chaos scenario reads off its lines' events: when a line asked for an iteration (its
feed slows down from then on), and when every iteration of the lines has ended."""

from __future__ import annotations

import asyncio

import schemas as s
from tests.samples import one_of_each
from yieldloop.chaos.timeline import Timeline

EVENTS = {type(e): e for e in one_of_each()}
REQUESTED = EVENTS[s.RetrainRequested]
QUEUED = EVENTS[s.RetrainQueued]
REJECTED = EVENTS[s.ModelRejected]
DEPLOYED = EVENTS[s.ModelDeployed]


def test_a_line_has_asked_once_its_own_iteration_is_requested_or_its_drop_queued() -> None:
    timeline = Timeline(replica="r1")
    assert timeline.asked("line-1") is None
    timeline.add(REQUESTED.model_copy(update={"line_id": "line-2"}))
    assert timeline.asked("line-1") is None
    timeline.add(QUEUED)
    assert timeline.asked("line-1") is QUEUED
    assert timeline.asked("line-2") is not None


def test_a_waiting_line_wakes_when_another_event_brings_its_request() -> None:
    async def scenario() -> s.Event:
        timeline = Timeline(replica="r1")
        waiting = asyncio.create_task(timeline.wait_for(lambda: timeline.asked("line-1")))
        timeline.add(DEPLOYED)
        await asyncio.sleep(0)
        assert not waiting.done()
        timeline.add(REQUESTED)
        return await asyncio.wait_for(waiting, timeout=1)

    assert asyncio.run(scenario()) is REQUESTED


def test_settled_only_once_every_iteration_ended_and_every_queued_drop_was_taken() -> None:
    timeline = Timeline(replica="r1")
    assert not timeline.settled()  # nothing asked yet
    timeline.add(REQUESTED)
    assert not timeline.settled()
    timeline.add(DEPLOYED.model_copy(update={"replica_id": "another"}))
    assert not timeline.settled()  # deployed elsewhere, not on the replica watched
    timeline.add(REJECTED)
    assert timeline.settled()
    timeline.add(QUEUED)
    assert not timeline.settled()  # a drop waits for the next iteration
    joined = REQUESTED.model_copy(update={"iteration_id": "it-2", "joined": [QUEUED.event_id]})
    timeline.add(joined)
    assert not timeline.settled()
    timeline.add(DEPLOYED.model_copy(update={"iteration_id": "it-2"}))
    assert timeline.settled()
