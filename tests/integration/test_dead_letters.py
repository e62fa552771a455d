"""A message that cannot be parsed goes to the dead-letter topic with its error and original
bytes; the consumer carries on with the next one. On the real broker."""

from __future__ import annotations

import asyncio
import uuid

import pytest

import schemas as s
from services.common.kafka import make_broker, publisher
from services.common.retry import Poison
from services.common.service import Runtime
from services.common.settings import Backoff, CommonSettings
from tests.kafka_io import Records, read_topics
from yieldloop.dead_letters import DeadLetter, dead_letters, redrive

pytestmark = pytest.mark.integration


async def test_a_poison_message_is_dead_lettered_and_the_consumer_carries_on(
    stack: CommonSettings,
) -> None:
    marker = uuid.uuid4().hex
    poison = f"not json {marker}".encode()
    after = s.AlertRaised(producer="dlq-test", severity="info", summary=f"after {marker}")
    handled: list[s.AlertRaised] = []
    broker = make_broker(stack, client_id="dlq-test")

    @broker.subscriber(
        s.topic_for(s.AlertRaised), group_id=f"dlq-{marker}", auto_offset_reset="earliest"
    )
    async def on_alert(event: s.AlertRaised) -> None:
        handled.append(event)

    async with broker:
        await broker.start()
        await broker.publish(poison, s.topic_for(s.AlertRaised), headers={"origin": "test"})
        await publisher(broker)(after)
        async with asyncio.timeout(30):
            while after not in handled:
                await asyncio.sleep(0.2)

    def ours(records: Records) -> list[bytes]:
        return [r.value for r in records if marker.encode() in r.value]

    dead = await read_topics(stack, [s.DEAD_LETTER], until=lambda rs: bool(ours(rs)))
    # every group that reads the topic dead-letters it once (the services' too, when running)
    record = next(r for r in dead if r.value == poison)
    headers = {k: v.decode() for k, v in record.headers}
    assert headers["origin"] == "test" and headers["x-error"]
    assert headers["x-origin"].startswith(s.topic_for(s.AlertRaised))


async def test_a_transient_fault_is_retried_not_dead_lettered(stack: CommonSettings) -> None:
    marker = uuid.uuid4().hex
    alert = s.AlertRaised(producer="retry-test", severity="info", summary=f"flaky {marker}")
    attempts: list[int] = []
    runtime = Runtime("retry-test", backoff=Backoff(initial_s=0.05, max_elapsed_s=10))
    broker = make_broker(stack, client_id="retry-test", metrics=runtime.metrics)

    async def flaky(event: s.AlertRaised) -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("the server is restarting")

    @broker.subscriber(
        s.topic_for(s.AlertRaised), group_id=f"retry-{marker}", auto_offset_reset="earliest"
    )
    async def on_alert(event: s.AlertRaised) -> None:
        if event.summary == alert.summary:
            await runtime.handle("flaky", lambda: flaky(event))

    async with broker:
        await broker.start()
        await publisher(broker)(alert)
        async with asyncio.timeout(30):
            while len(attempts) < 3:
                await asyncio.sleep(0.1)

    assert len(attempts) == 3
    retried = runtime.metrics.retries.labels("flaky", "ConnectionError")._value.get()
    assert retried == 2
    dead = await read_topics(stack, [s.DEAD_LETTER], timeout=3)
    assert not [r for r in dead if marker.encode() in r.value]


async def test_a_dead_letter_is_sent_back_once_the_cause_is_fixed(stack: CommonSettings) -> None:
    marker = uuid.uuid4().hex
    alert = s.AlertRaised(producer="redrive-test", severity="info", summary=f"needs {marker}")
    handled: list[s.AlertRaised] = []
    fixed = False
    broker = make_broker(stack, client_id="redrive-test")

    @broker.subscriber(
        s.topic_for(s.AlertRaised), group_id=f"redrive-{marker}", auto_offset_reset="earliest"
    )
    async def on_alert(event: s.AlertRaised) -> None:
        if event.summary != alert.summary:
            return
        if not fixed:
            raise Poison("the handler cannot take this yet")
        handled.append(event)

    def ours(letters: list[DeadLetter]) -> list[DeadLetter]:
        return [d for d in letters if marker.encode() in d.record.value]

    async with broker:
        await broker.start()
        await publisher(broker)(alert)
        async with asyncio.timeout(30):
            while not ours(await dead_letters(stack)):
                await asyncio.sleep(0.3)
        [letter] = ours(await dead_letters(stack))
        assert letter.topic == s.topic_for(s.AlertRaised) and "cannot take" in letter.error

        fixed = True
        [(_, sent)] = await redrive(stack, [letter])
        [(_, again)] = await redrive(stack, [letter])
        async with asyncio.timeout(30):
            while not handled:
                await asyncio.sleep(0.2)

    assert sent and not again
    assert handled == [alert]
