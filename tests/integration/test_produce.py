"""The line simulator publishing into a real Apache Kafka broker."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from aiokafka import ConsumerRecord

import schemas as s
from schemas.topics import IMAGES_SUBMITTED
from services.common.settings import CommonSettings
from services.common.store import LocalImageStore
from tests.kafka_io import read_topics
from yieldloop.produce import produce
from yieldloop.sources import demo_items
from yieldloop.truth import read_truth

pytestmark = pytest.mark.integration


async def records_of(settings: CommonSettings, line_id: str) -> list[ConsumerRecord[bytes, bytes]]:
    """All of the images topic as it stands (other tests write to it too), keeping this line's."""
    records = await read_topics(settings, [IMAGES_SUBMITTED], timeout=5)
    needle = f'"line_id":"{line_id}"'.encode()  # keyed by item: the line is in the value
    return [r for r in records if needle in r.value]


def submitted(records: list[ConsumerRecord[bytes, bytes]]) -> list[s.ImageSubmitted]:
    return [s.decode(r.value, s.ImageSubmitted) for r in records]


async def test_every_part_arrives_once_without_its_label(
    stack: CommonSettings, tmp_path: Path
) -> None:
    line = f"line-{uuid.uuid4().hex[:6]}"
    truth = tmp_path / "truth.csv"

    sent = await produce(
        stack,
        source=demo_items(seed=0, drift_after=10),
        line_id=line,
        rate=500,
        count=20,
        truth=truth,
    )

    records = await records_of(stack, line)
    events, rows = submitted(records), read_truth(truth)
    assert sent == 20 and len(rows) == 20
    assert sorted(e.item_id for e in events) == sorted(r.item_id for r in rows)  # once each
    assert all(e.image.data is not None for e in events)  # small demo parts travel inline
    assert {e.image.sha256 for e in events} == {r.sha256 for r in rows}
    assert sum(r.drifted for r in rows) == 10
    assert not any(b'"label"' in r.value for r in records)  # the truth stays with the simulator


async def test_an_image_over_the_inline_limit_travels_as_a_claim_check(
    stack: CommonSettings, tmp_path: Path
) -> None:
    small_limit = stack.model_copy(
        update={"kafka": stack.kafka.model_copy(update={"inline_image_limit": 10})}
    )
    line = f"line-{uuid.uuid4().hex[:6]}"

    await produce(
        small_limit,
        source=demo_items(seed=1, drift_after=None),
        line_id=line,
        rate=500,
        count=2,
        truth=None,
    )

    events = submitted(await records_of(stack, line))
    assert len(events) == 2
    for event in events:
        assert event.image.data is None and event.image.uri is not None
        data = LocalImageStore(stack.store_root).get(event.image.uri)
        assert s.ImageRef.inline(data).sha256 == event.image.sha256
