"""Kafka wiring every service shares: the broker, publishing events, dead letters."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol, TypeAlias, TypedDict, TypeVar

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.errors import KafkaError
from aiokafka.helpers import create_ssl_context
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.publisher.usecase import DefaultPublisher
from faststream.kafka.subscriber.usecase import LogicSubscriber
from faststream.message import StreamMessage
from faststream.middlewares import ExceptionMiddleware
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from schemas import DEAD_LETTER, Event, codec, topic_for
from services.common.health import ServiceMetrics
from services.common.retry import POISON
from services.common.settings import CommonSettings

log = logging.getLogger(__name__)


class Publish(Protocol):
    """The event publisher port: one event, acknowledged; or many, sent at once and acknowledged
    together (each still keyed and ordered per partition)."""

    async def __call__(self, event: Event) -> None: ...

    async def all(self, events: Sequence[Event]) -> None: ...

    async def sent(self, events: Sequence[Event]) -> Awaitable[None]: ...


Record: TypeAlias = ConsumerRecord[bytes, bytes]
JSON = "application/json"
GRACEFUL_TIMEOUT_S = 30.0  # a job asked to stop hands its record back within this
# A record batch, under the broker's 1 MB message.max.bytes: a batch subscriber's report goes in
# one or two (a batch waits for the one before it on its partition to be sent).
BATCH_BYTES = 512 * 1024


def make_broker(
    settings: CommonSettings, *, client_id: str, metrics: ServiceMetrics | None = None
) -> KafkaBroker:
    """A broker whose producer waits for all replicas and never duplicates on retry.

    A handler that fails leaves its record uncommitted (it is fetched again), unless the record
    is poison: that one goes to the dead-letter topic and the consumer carries on. If the dead
    letter cannot be written, the record stays uncommitted too."""
    dead_letters = ExceptionMiddleware()
    broker = KafkaBroker(
        settings.kafka_bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        max_batch_size=BATCH_BYTES,
        security=security(settings),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        allow_auto_create_topics=False,
        graceful_timeout=GRACEFUL_TIMEOUT_S,
        middlewares=[dead_letters],
        log_level=logging.DEBUG,  # a line per message costs more than judging; counts are metrics
    )

    async def to_dead_letter(exc: Exception, message: KafkaMessage) -> None:
        raw = message.raw_message
        for record in raw if isinstance(raw, tuple) else (raw,):
            await send_dead_letter(broker, record, exc)
            if metrics is not None:
                metrics.dead_letters.labels(record.topic).inc()

    for kind in POISON:
        dead_letters.add_handler(kind)(to_dead_letter)
    declare_dead_letters(broker)
    return broker


DEAD_LETTER_SUMMARY = (
    "A poison record set aside: its original key, bytes and headers, with `x-error` (the error) "
    "and `x-origin` (topic/partition/offset) headers. `yieldloop dead-letters` lists, shows and "
    "sends them back."
)


def declare_dead_letters(broker: KafkaBroker) -> DefaultPublisher:
    """Every broker may write dead letters; declared so the AsyncAPI document lists the topic.
    The payload is whatever bytes the poison record carried."""
    return broker.publisher(
        DEAD_LETTER,
        title=f"{DEAD_LETTER}:DeadLetter",
        description=DEAD_LETTER_SUMMARY,
        schema=bytes,
    )


async def send_dead_letter(broker: KafkaBroker, record: Record, exc: BaseException) -> None:
    """Keep the original bytes and headers with the error and where the record came from."""
    origin = f"{record.topic}/{record.partition}/{record.offset}"
    log.error("dead-lettering %s: %r", origin, exc)
    headers = {k: v.decode(errors="replace") for k, v in (record.headers or ())}
    await broker.publish(
        record.value,
        DEAD_LETTER,
        key=record.key,
        headers={**headers, "x-error": repr(exc)[:1000], "x-origin": origin},
    )


class Batches(TypedDict):
    batch: Literal[True]
    max_records: int
    fetch_min_bytes: int
    fetch_max_wait_ms: int
    max_partition_fetch_bytes: int


PARTITION_FETCH_BYTES = 1024 * 1024  # aiokafka's own limit per partition and fetch


def batches(max_records: int, *, wait_ms: int, record_bytes: int) -> Batches:
    """A batch subscriber's settings for batches by time as well as count: the broker answers a
    fetch once a full batch's worth of bytes is there or `wait_ms` has passed, whichever comes
    first. Prompt at a trickle, full batches under load.

    One busy partition must be able to fill a batch on its own: were its share of a fetch
    smaller than the batch's bytes, the broker would hold every fetch for `wait_ms`, load or
    not. Its share is twice the batch's bytes, for records larger than the typical size."""
    full = max_records * record_bytes
    return Batches(
        batch=True,
        max_records=max_records,
        fetch_min_bytes=full,
        fetch_max_wait_ms=wait_ms,
        max_partition_fetch_bytes=max(PARTITION_FETCH_BYTES, 2 * full),
    )


Offsets: TypeAlias = dict[TopicPartition, int]
T = TypeVar("T")


class EarlierBatchFailed(RuntimeError):
    """A batch is not reported or committed after one that failed before it."""


def offsets(records: Iterable[Record], *, first: bool) -> Offsets:
    """Per partition, the offset of its first record in `records`, or the one after its last."""
    found: Offsets = {}
    for r in records:
        tp = TopicPartition(r.topic, r.partition)
        mark = r.offset if first else r.offset + 1
        found[tp] = min(found.get(tp, mark), mark) if first else max(found.get(tp, mark), mark)
    return found


@dataclass
class _Pending:
    first: Offsets  # where to read again if this batch is not committed
    reported: asyncio.Event = field(default_factory=asyncio.Event)
    failed: bool = False
    committed: asyncio.Task[None] | None = None


class InOrderCommits(ConsumerRebalanceListener):  # type: ignore[misc]
    """Commits for a batch subscriber (AckPolicy.MANUAL) that works on several batches at once:
    each batch is worked on as soon as it is fetched, reported (its predictions handed to the
    producer) only after the batch before it, and committed once its report is confirmed (all
    acknowledged) and the batch before it is committed. So reports keep the order of the
    records, and offsets are never committed past a batch whose report is not confirmed. At
    most `depth` batches are in flight at once.

    A batch that fails is not committed, nor is any after it: the next batch handled finds that
    out and puts the consumer back at the first of them, so all are fetched again. Before
    partitions are taken away, what is pending is committed (it is the consumer's rebalance
    listener)."""

    def __init__(self, consumer: Callable[[], AIOKafkaConsumer | None], depth: int) -> None:
        self.consumer = consumer
        self.depth = depth
        self.pending: deque[_Pending] = deque()
        self.confirmed: Offsets = {}  # read positions whose batches are all confirmed

    async def handle(
        self,
        records: Sequence[Record],
        work: Callable[[], Awaitable[T]],
        report: Callable[[T], Awaitable[Awaitable[None]]],
    ) -> None:
        """Start `work` on a batch and return; `report` follows with its result once the batch
        before is reported, and what `report` returns confirms the batch."""
        try:
            self._settled()
            previous = self.pending[-1] if self.pending else None
            batch = _Pending(offsets(records, first=True))
            after = offsets(records, first=False)
            batch.committed = asyncio.create_task(self._run(batch, previous, after, work, report))
            self.pending.append(batch)
            while len(self.pending) > self.depth:
                await asyncio.wait({self._task(self.pending[0])})
                self._settled()
        except BaseException:
            await self.rewind(records)
            raise

    @staticmethod
    def _task(batch: _Pending) -> asyncio.Task[None]:
        assert batch.committed is not None
        return batch.committed

    def _settled(self) -> None:
        """Forget the batches committed; raise the failure of the first one that was not."""
        while self.pending and self._task(self.pending[0]).done():
            failure = self._task(self.pending[0]).exception()
            if failure is not None:
                raise failure
            self.pending.popleft()

    async def _run(
        self,
        batch: _Pending,
        previous: _Pending | None,
        after: Offsets,
        work: Callable[[], Awaitable[T]],
        report: Callable[[T], Awaitable[Awaitable[None]]],
    ) -> None:
        try:
            result = await work()
            if previous is not None:
                await previous.reported.wait()
                if previous.failed:
                    raise EarlierBatchFailed("a batch before this one failed")
            confirmation = await report(result)
            batch.reported.set()
            await confirmation
            if previous is not None:
                await self._task(previous)
            await self._commit(after)
        except BaseException:
            batch.failed = True
            raise
        finally:
            batch.reported.set()

    async def _commit(self, after: Offsets) -> None:
        for tp, offset in after.items():
            self.confirmed[tp] = max(self.confirmed.get(tp, offset), offset)
        consumer = self.consumer()
        owned = consumer.assignment() if consumer is not None else set()
        mine = {tp: offset for tp, offset in self.confirmed.items() if tp in owned}
        if consumer is None or not mine:
            return
        try:
            await consumer.commit(mine)
        except KafkaError as exc:  # confirmed all the same: the next commit carries these
            log.warning("commit of %s deferred: %r", mine, exc)

    async def rewind(self, records: Sequence[Record]) -> None:
        """Once what is pending is settled, read again from the first batch not committed: this
        one, or an earlier one whose confirmation failed."""
        await self.drain()
        back = offsets(records, first=True)
        failed = False
        for batch in self.pending:
            failed = failed or batch.failed
            for tp, offset in batch.first.items() if failed else ():
                back[tp] = min(back.get(tp, offset), offset)
        self.pending.clear()
        consumer = self.consumer()
        owned = consumer.assignment() if consumer is not None else set()
        for tp, offset in back.items():
            if consumer is not None and tp in owned:
                consumer.seek(tp, offset)

    async def drain(self, timeout_s: float | None = None) -> None:
        """Wait until every batch handed over is committed or has failed."""
        if self.pending:
            await asyncio.wait([self._task(batch) for batch in self.pending], timeout=timeout_s)

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self.drain(GRACEFUL_TIMEOUT_S)
        for tp in revoked:
            self.confirmed.pop(tp, None)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        pass


class Publisher:
    """Events to their topics as JSON, keyed and with headers as the catalog says. The kinds a
    service `produces` go through publishers registered on its broker: the AsyncAPI document
    lists those, with their schemas."""

    def __init__(self, broker: KafkaBroker, produces: Sequence[type[Event]] = ()) -> None:
        self.broker = broker
        self.declared = {kind: declare(broker, kind) for kind in produces}

    async def __call__(self, event: Event) -> None:
        await self._send(event)

    async def all(self, events: Sequence[Event]) -> None:
        """Hand every event to the producer in order, then wait for all acknowledgements: one
        round trip for a batch instead of one per event."""
        await (await self.sent(events))

    async def sent(self, events: Sequence[Event]) -> Awaitable[None]:
        """Hand every event to the producer in order without waiting; what is returned is done
        once all of them are acknowledged, and fails if one of them is not."""
        return await send_batches(aiokafka_producer(self.broker), map(_outgoing, events))

    async def _send(self, event: Event) -> None:
        """One event, through its declared publisher, awaited until acknowledged."""
        body, key = codec.encode(event), codec.key(event)
        target = self.declared.get(type(event))
        if target is not None:
            await target.publish(body, key=key, headers=_headers(event))
            return
        await self.broker.publish(body, topic_for(event), key=key, headers=_headers(event))


PARTITIONER = DefaultPartitioner()  # the producer's own: by the key's hash, where send() puts it


def _headers(event: Event) -> dict[str, str]:
    return {**codec.headers(event), "content-type": JSON}


class Outgoing(NamedTuple):
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]  # a list: aiokafka's batch takes nothing else


def _outgoing(event: Event) -> Outgoing:
    headers = [(k, v.encode()) for k, v in _headers(event).items()]
    return Outgoing(topic_for(event), codec.key(event), codec.encode(event), headers)


async def send_batches(producer: AIOKafkaProducer, records: Iterable[Outgoing]) -> Awaitable[None]:
    """Hand records to the producer as its record batches, one per partition (more when one
    fills), each record keyed, with its own headers, in the partition send() would give its key
    and in order. A record appended to a batch costs the event loop a small part of what a send
    of its own does. What is returned is done once every batch is acknowledged."""
    partitions: dict[str, list[int]] = {}
    partition_of: dict[tuple[str, bytes], int] = {}  # a line's records share a key: hashed once
    runs: dict[tuple[str, int], list[Outgoing]] = {}
    for record in records:
        where = (record.topic, record.key)
        if where not in partition_of:
            if record.topic not in partitions:
                partitions[record.topic] = sorted(await producer.partitions_for(record.topic))
            every = partitions[record.topic]
            partition_of[where] = PARTITIONER(record.key, every, every)
        runs.setdefault((record.topic, partition_of[where]), []).append(record)
    pending = []
    for (topic, partition), run in runs.items():
        batch = producer.create_batch()
        for record in run:
            if not _appended(batch, record):  # full: it goes, and the record starts the next one
                batch.close()
                pending.append(await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()
                if not _appended(batch, record):
                    raise ValueError(f"a record of {len(record.value)} bytes exceeds a batch")
        batch.close()
        pending.append(await producer.send_batch(batch, topic, partition=partition))
    return _all_of(pending)


def _appended(batch: BatchBuilder, r: Outgoing) -> bool:
    return batch.append(key=r.key, value=r.value, timestamp=None, headers=r.headers) is not None


def aiokafka_producer(broker: KafkaBroker) -> AIOKafkaProducer:
    """The connected broker's own aiokafka producer (acks=all, idempotent). FastStream publishes
    a batch under one key and one set of headers; events need their own."""
    producer = getattr(getattr(broker.config.producer, "_producer", None), "producer", None)
    if not isinstance(producer, AIOKafkaProducer):
        raise RuntimeError("the Kafka broker is not connected: no producer to publish with")
    return producer


async def _all_of(pending: Sequence[Awaitable[Any]]) -> None:
    await asyncio.gather(*pending)


def publisher(broker: KafkaBroker, produces: Sequence[type[Event]] = ()) -> Publish:
    return Publisher(broker, produces)


def declare(broker: KafkaBroker, kind: type[Event]) -> DefaultPublisher:
    topic = topic_for(kind)
    summary = (kind.__doc__ or kind.__name__).strip().splitlines()[0]
    return broker.publisher(
        topic, title=f"{topic}:{kind.__name__}", description=summary, schema=kind
    )


def security(settings: CommonSettings) -> BaseSecurity | None:
    k = settings.kafka
    if k.sasl_mechanism is None:
        return None
    password = k.sasl_password.get_secret_value() if k.sasl_password else ""
    kinds = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
    return kinds[k.sasl_mechanism](
        k.sasl_username or "", password, use_ssl=k.security_protocol.startswith("SASL_SSL")
    )


def security_options(settings: CommonSettings) -> dict[str, Any]:
    """The same security for plain aiokafka clients (admin, readers) as for the broker."""
    k = settings.kafka
    if k.sasl_mechanism is None:
        return {"security_protocol": k.security_protocol}
    options: dict[str, Any] = {
        "security_protocol": k.security_protocol,
        "sasl_mechanism": k.sasl_mechanism,
        "sasl_plain_username": k.sasl_username,
        "sasl_plain_password": k.sasl_password.get_secret_value() if k.sasl_password else None,
    }
    if k.security_protocol.endswith("SSL"):
        options["ssl_context"] = create_ssl_context()
    return options


def replica_group(service: str, replica_id: str) -> str:
    """A consumer group of one: every replica receives every message (model events)."""
    return f"{service}-{replica_id}"


async def raw_batch(message: StreamMessage[Any]) -> list[bytes]:
    """A batch decoder that leaves each record's bytes alone: the handler validates records one
    by one, so one bad record cannot fail the others."""
    return [bytes(record.value or b"") for record in message.raw_message]


async def assigned(subscriber: LogicSubscriber[Any], *, timeout_s: float = 60) -> None:
    """Wait until the subscriber's consumer owns its partitions and knows where it reads from;
    anything published after this is received. A group new to a partition commits where it
    starts: otherwise a rebalance later (another subscriber of the group joining) would start
    it afresh, at the end again for `auto_offset_reset="latest"`, past what came meanwhile."""
    consumer = subscriber.consumer
    async with asyncio.timeout(timeout_s):
        while consumer is None or not consumer.assignment():
            await asyncio.sleep(0.1)
            consumer = subscriber.consumer
        for partition in consumer.assignment():
            position = await consumer.position(partition)
            if await consumer.committed(partition) is None:
                await consumer.commit({partition: position})
