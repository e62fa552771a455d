"""Composition root of the inference service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Unpack

from aiokafka import ConsumerRecord

from services.common.models import LoadedModel
from services.common.review import KafkaReviewLog, ReviewLog
from services.common.settings import load_settings
from services.common.wiring import Given, Ports, adapters
from services.inference.config import InferenceConfig, InferenceSettings
from services.inference.decoding import Decoders
from services.inference.domain import ModelSlot, ZipLimits
from services.inference.metrics import Metrics

DeadLetter = Callable[[ConsumerRecord[bytes, bytes], BaseException], Awaitable[None]]


@dataclass
class Inference(Ports):
    config: InferenceConfig
    dead_letter: DeadLetter
    reviews: ReviewLog
    slot: ModelSlot[LoadedModel] | None = None
    swapping: asyncio.Lock = field(default_factory=asyncio.Lock)
    metrics: Metrics = field(init=False)
    decoders: Decoders = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = Metrics(self.runtime.metrics.registry)
        self.decoders = Decoders(self.config.decode_processes)

    @property
    def model(self) -> LoadedModel:
        if self.slot is None:
            raise RuntimeError("no model loaded yet")
        return self.slot.current

    @property
    def zip_limits(self) -> ZipLimits:
        c = self.config
        return ZipLimits(c.max_zip_entries, c.max_zip_unpacked_bytes, c.max_upload_bytes)


def bootstrap(
    *,
    dead_letter: DeadLetter,
    settings: InferenceSettings | None = None,
    reviews: ReviewLog | None = None,
    **given: Unpack[Given],
) -> Inference:
    """Real adapters, except those given (fakes in tests)."""
    settings = settings or load_settings(InferenceSettings)
    return Inference(
        config=settings.inference,
        dead_letter=dead_letter,
        reviews=reviews or KafkaReviewLog(settings),
        **adapters(settings, service="inference", **given),
    )
