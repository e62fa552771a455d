"""Kafka wiring every service shares: the broker, publishing events, dead letters."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Literal, Protocol, TypeAlias, TypedDict

from aiokafka import ConsumerRecord
from aiokafka.helpers import create_ssl_context
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


Record: TypeAlias = ConsumerRecord[bytes, bytes]
JSON = "application/json"
GRACEFUL_TIMEOUT_S = 30.0  # a job asked to stop hands its record back within this


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


def batches(max_records: int, *, wait_ms: int, record_bytes: int) -> Batches:
    """A batch subscriber's settings for batches by time as well as count: the broker answers a
    fetch once a full batch's worth of bytes is there or `wait_ms` has passed, whichever comes
    first. Prompt at a trickle, full batches under load."""
    return Batches(
        batch=True,
        max_records=max_records,
        fetch_min_bytes=max_records * record_bytes,
        fetch_max_wait_ms=wait_ms,
    )


class Publisher:
    """Events to their topics as JSON, keyed and with headers as the catalog says. The kinds a
    service `produces` go through publishers registered on its broker: the AsyncAPI document
    lists those, with their schemas."""

    def __init__(self, broker: KafkaBroker, produces: Sequence[type[Event]] = ()) -> None:
        self.broker = broker
        self.declared = {kind: declare(broker, kind) for kind in produces}

    async def __call__(self, event: Event) -> None:
        await self._send(event, wait=True)

    async def all(self, events: Sequence[Event]) -> None:
        """Hand every event to the producer in order, then wait for all acknowledgements: one
        round trip for a batch instead of one per event."""
        pending = [await self._send(event, wait=False) for event in events]
        await asyncio.gather(*pending)

    async def _send(self, event: Event, *, wait: bool) -> Any:
        body, key = codec.encode(event), codec.key(event)
        headers = {**codec.headers(event), "content-type": JSON}
        target = self.declared.get(type(event))
        if target is not None:
            return await target.publish(body, key=key, headers=headers, no_confirm=not wait)
        return await self.broker.publish(
            body, topic_for(event), key=key, headers=headers, no_confirm=not wait
        )


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
    anything published after this is received."""
    consumer = subscriber.consumer
    async with asyncio.timeout(timeout_s):
        while consumer is None or not consumer.assignment():
            await asyncio.sleep(0.1)
            consumer = subscriber.consumer
        for partition in consumer.assignment():
            await consumer.position(partition)
