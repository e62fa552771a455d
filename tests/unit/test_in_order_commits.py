"""Batches worked on at once are reported in order and committed in order, each only once its
report is confirmed; a failure sends the consumer back to the first batch not committed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiokafka import TopicPartition

from services.common.kafka import InOrderCommits, Record
from tests.fakes import record_of

TP = TopicPartition("images", 0)


class Consumer:
    """What InOrderCommits asks of a consumer: its assignment, commits and seeks, kept."""

    def __init__(self) -> None:
        self.commits: list[int] = []
        self.seeks: list[int] = []

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(offsets[TP])

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append(offset)


def batch(first: int, size: int = 10) -> list[Record]:
    return [record_of(b"x", offset=o, topic=TP.topic) for o in range(first, first + size)]


class Gates:
    """A gate per batch for its work and one for its confirmation, opened by the test."""

    def __init__(self) -> None:
        self.worked: dict[int, asyncio.Event] = {}
        self.acked: dict[int, asyncio.Future[None]] = {}
        self.reported: list[int] = []

    def work(self, n: int) -> Callable[[], Awaitable[int]]:
        self.worked[n] = asyncio.Event()
        self.acked[n] = asyncio.get_running_loop().create_future()

        async def work() -> int:
            await self.worked[n].wait()
            return n

        return work

    async def report(self, n: int) -> Awaitable[None]:
        self.reported.append(n)
        return self.acked[n]


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def test_batches_are_reported_and_committed_in_order_whatever_finishes_first() -> None:
    async def scenario() -> tuple[Consumer, Gates, list[list[int]]]:
        consumer, gates, seen = Consumer(), Gates(), []
        commits = InOrderCommits(lambda: consumer, depth=3)  # type: ignore[arg-type,return-value]
        for n in range(3):
            await commits.handle(batch(n * 10), gates.work(n), gates.report)
        gates.worked[2].set()
        gates.worked[1].set()
        await settle()
        seen.append(list(gates.reported))  # nothing before batch 0 is reported
        gates.worked[0].set()
        await settle()
        seen.append(list(gates.reported))
        gates.acked[2].set_result(None)
        gates.acked[1].set_result(None)
        await settle()
        seen.append(list(consumer.commits))  # 1 and 2 wait for 0
        gates.acked[0].set_result(None)
        await commits.drain()
        return consumer, gates, seen

    consumer, _, seen = asyncio.run(scenario())
    assert seen == [[], [0, 1, 2], []]
    assert consumer.commits == [10, 20, 30]


def test_a_batch_not_confirmed_is_read_again_with_every_batch_after_it() -> None:
    async def scenario() -> Consumer:
        consumer, gates = Consumer(), Gates()
        commits = InOrderCommits(lambda: consumer, depth=3)  # type: ignore[arg-type,return-value]
        for n in range(3):
            await commits.handle(batch(n * 10), gates.work(n), gates.report)
            gates.worked[n].set()
        await settle()
        gates.acked[0].set_result(None)
        gates.acked[1].set_exception(ConnectionError("broker gone"))
        gates.acked[2].set_result(None)
        await commits.drain()
        with pytest.raises(ConnectionError):
            await commits.handle(batch(30), gates.work(3), gates.report)
        return consumer

    consumer = asyncio.run(scenario())
    assert consumer.commits == [10]
    assert consumer.seeks == [10]


def test_at_most_depth_batches_are_in_flight() -> None:
    async def scenario() -> bool:
        consumer, gates = Consumer(), Gates()
        commits = InOrderCommits(lambda: consumer, depth=2)  # type: ignore[arg-type,return-value]
        for n in range(2):
            await commits.handle(batch(n * 10), gates.work(n), gates.report)
        third = asyncio.create_task(commits.handle(batch(20), gates.work(2), gates.report))
        await settle()
        waited = not third.done()
        gates.worked[0].set()
        gates.worked[1].set()
        gates.acked[0].set_result(None)
        await third
        gates.worked[2].set()
        for n in (1, 2):
            gates.acked[n].set_result(None)
        await commits.drain()
        return waited

    assert asyncio.run(scenario())
