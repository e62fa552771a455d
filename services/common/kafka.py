"""Kafka wiring every service shares: the broker, publishing events, dead letters, topics."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.middlewares import ExceptionMiddleware
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from schemas import CATALOG, DEAD_LETTER, Event, Retention, codec, topic_for
from services.common.settings import CommonSettings

log = logging.getLogger(__name__)
Publish = Callable[[Event], Coroutine[Any, Any, None]]
JSON = "application/json"


def make_broker(settings: CommonSettings, *, client_id: str) -> KafkaBroker:
    """A broker whose producer waits for all replicas and never duplicates on retry."""
    dead_letters = ExceptionMiddleware()
    broker = KafkaBroker(
        settings.kafka_bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        security=security(settings),
        ack_policy=AckPolicy.ACK,
        allow_auto_create_topics=False,
        middlewares=[dead_letters],
    )

    @dead_letters.add_handler(Exception)
    async def to_dead_letter(exc: Exception, message: KafkaMessage) -> None:
        await send_dead_letter(broker, message, exc)

    return broker


async def send_dead_letter(broker: KafkaBroker, message: KafkaMessage, exc: Exception) -> None:
    """Keep the original bytes and headers with the error; the consumer carries on."""
    raw = message.raw_message
    records = raw if isinstance(raw, tuple) else (raw,)
    for record in records:
        origin = f"{record.topic}/{record.partition}/{record.offset}"
        log.error("dead-lettering %s: %r", origin, exc)
        headers = {k: v.decode(errors="replace") for k, v in (record.headers or ())}
        await broker.publish(
            record.value,
            DEAD_LETTER,
            key=record.key,
            headers={**headers, "x-error": repr(exc)[:1000], "x-origin": origin},
        )


def publisher(broker: KafkaBroker) -> Publish:
    async def publish(event: Event) -> None:
        await broker.publish(
            codec.encode(event),
            topic_for(event),
            key=codec.key(event),
            headers={**codec.headers(event), "content-type": JSON},
        )

    return publish


def security(settings: CommonSettings) -> BaseSecurity | None:
    k = settings.kafka
    if k.sasl_mechanism is None:
        return None
    password = k.sasl_password.get_secret_value() if k.sasl_password else ""
    kinds = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
    return kinds[k.sasl_mechanism](
        k.sasl_username or "", password, use_ssl=k.security_protocol.startswith("SASL_SSL")
    )


def topic_configs(settings: CommonSettings, retention: Retention) -> dict[str, str]:
    if retention is Retention.FOREVER:
        return {"retention.ms": "-1", "retention.bytes": "-1"}
    k = settings.kafka
    return {
        "retention.ms": str(k.stream_retention_ms),
        "retention.bytes": str(k.stream_retention_bytes),
    }


async def ensure_topics(settings: CommonSettings) -> list[str]:
    """Create the catalog's topics that are missing; returns the names created."""
    wanted = {spec.name: spec.retention for spec in CATALOG} | {DEAD_LETTER: Retention.FOREVER}
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name, settings.kafka.partitions, 1, topic_configs=topic_configs(settings, kept)
            )
            for name, kept in wanted.items()
            if name not in existing
        ]
        if missing:
            await admin.create_topics(missing)
        return [t.name for t in missing]
    finally:
        await admin.close()


__all__ = ["Publish", "ensure_topics", "make_broker", "publisher", "send_dead_letter", "topic_for"]
