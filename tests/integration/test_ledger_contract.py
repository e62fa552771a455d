"""The ledger of iterations: the in-memory one and the one on a real Redis pass the same suite,
and a ledger rebuilt from the facts holds what the original held."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from schemas import (
    DatasetCurated,
    Event,
    ModelApproved,
    ModelCandidate,
    RetrainQueued,
    RetrainRequested,
)
from services.common.iteration import Result, Stage
from services.common.ledger import InMemoryLedger, Ledger, RedisLedger, rebuild
from services.common.settings import CommonSettings
from tests.samples import one_of_each

pytestmark = pytest.mark.integration
SAMPLES = {type(e): e for e in one_of_each(producer="ledger-test")}


def of(kind: type[Event], iteration_id: str, **changes: object) -> Event:
    return SAMPLES[kind].model_copy(update={"iteration_id": iteration_id, **changes})


@pytest.fixture(params=["memory", "redis"])
def ledger(request: pytest.FixtureRequest, stack: CommonSettings) -> Iterator[Ledger]:
    model = f"model-{uuid.uuid4().hex[:8]}"  # a model of its own: nothing else holds it
    if request.param == "memory":
        yield InMemoryLedger()
    else:
        yield RedisLedger(Redis.from_url(stack.redis_url, decode_responses=True), model_name=model)


def fresh() -> str:
    return f"it-{uuid.uuid4().hex[:8]}"


async def test_a_fact_is_recorded_once_and_marked_sent(ledger: Ledger) -> None:
    it = fresh()
    first = await ledger.record([of(RetrainRequested, it)], sent=False)
    again = await ledger.record([of(RetrainRequested, it)], sent=True)
    assert first.result is Result.RECORDED and again.result is Result.DUPLICATE

    await ledger.mark_sent(it, "requested")

    got = await ledger.get(it)
    assert got is not None and got.stage is Stage.REQUESTED
    assert got.fact(Stage.REQUESTED).sent  # type: ignore[union-attr]
    assert got.fact(Stage.REQUESTED).event == of(RetrainRequested, it)  # type: ignore[union-attr]


async def test_one_iteration_holds_the_model_until_its_decision(ledger: Ledger) -> None:
    first, second = fresh(), fresh()
    await ledger.record([of(RetrainRequested, first)], sent=True)

    refused = await ledger.record([of(RetrainRequested, second)], sent=True)
    assert refused.result is Result.REFUSED and first in refused.reason
    assert (await ledger.active()).iteration_id == first  # type: ignore[union-attr]

    for kind in (DatasetCurated, ModelCandidate, ModelApproved):
        await ledger.record([of(kind, first)], sent=True)
    assert await ledger.active() is None
    opened = await ledger.record([of(RetrainRequested, second)], sent=True)
    assert opened.result is Result.RECORDED


async def test_queued_drops_go_to_the_first_claim_only(ledger: Ledger) -> None:
    it = fresh()
    drop = of(RetrainQueued, it, event_id=uuid.uuid4())
    assert isinstance(drop, RetrainQueued)
    await ledger.queue(drop)
    await ledger.queue(drop)  # queued twice (a replay): still one drop
    assert await ledger.pending() == [drop]

    assert await ledger.claim(it) == [drop]
    assert await ledger.claim(it) == [drop]  # the same answer again
    assert await ledger.claim(fresh()) == []
    assert await ledger.pending() == []
    assert await ledger.taken_by(str(drop.event_id)) == it


async def test_a_ledger_rebuilt_from_the_facts_holds_what_the_original_held(
    ledger: Ledger,
) -> None:
    done, running = fresh(), fresh()
    story = [
        (RetrainRequested, done),
        (DatasetCurated, done),
        (ModelCandidate, done),
        (ModelApproved, done),
        (RetrainRequested, running),
    ]
    start = datetime.now(UTC)
    facts = [
        of(kind, it, occurred_at=start + timedelta(seconds=i)) for i, (kind, it) in enumerate(story)
    ]
    original = InMemoryLedger()
    for event in facts:
        await original.record([event], sent=True)

    await rebuild(ledger, facts)

    assert await ledger.rebuilt()
    for it in (done, running):
        assert await ledger.get(it) == await original.get(it)
    assert (await ledger.active()).iteration_id == running  # type: ignore[union-attr]
