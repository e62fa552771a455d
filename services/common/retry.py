"""Transient faults are retried with exponential backoff; poison goes to the dead-letter topic.

Poison is a record that can never be handled, however often it is tried: unparsable, invalid
against its schema, or logically impossible (it names a model version, dataset or image that does
not exist). Everything else (MLflow, Redis or Kafka unavailable, a timeout) is transient."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import ValidationError

from schemas.codec import UnknownEventType
from services.common.images import ImageRejected
from services.common.registry import IntegrityError, ModelNotFound
from services.common.settings import Backoff
from services.common.store import BlobCorrupt, BlobNotFound

T = TypeVar("T")


class Poison(Exception):
    """A record that is well formed but can never be handled (logically impossible)."""


POISON: tuple[type[Exception], ...] = (
    Poison,
    ValidationError,
    UnknownEventType,
    json.JSONDecodeError,
    UnicodeDecodeError,
    ImageRejected,
    ModelNotFound,
    IntegrityError,  # weights that do not match their digest or do not load
    BlobNotFound,
    BlobCorrupt,
)


def is_poison(exc: BaseException) -> bool:
    return isinstance(exc, POISON)


OnRetry = Callable[[BaseException, float], None]


async def retrying(
    attempt: Callable[[], Awaitable[T]],
    *,
    backoff: Backoff,
    on_retry: OnRetry | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> T:
    """Run `attempt` until it succeeds; poison, a stop request or the spent budget re-raise."""
    started = time.monotonic()
    for delay in backoff.delays():
        try:
            return await attempt()
        except Exception as exc:
            spent = time.monotonic() - started + delay > backoff.max_elapsed_s
            if is_poison(exc) or spent or stopping():
                raise
            if on_retry is not None:
                on_retry(exc, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable: delays() never ends")
