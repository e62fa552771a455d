"""A message that cannot be parsed goes to the dead-letter topic with its error and original
bytes; the consumer carries on with the next one. On the real broker."""

from __future__ import annotations

import asyncio
import uuid

import pytest

import schemas as s
from services.common.kafka import make_broker, publisher
from services.common.settings import CommonSettings
from tests.kafka_io import Records, read_topics

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
