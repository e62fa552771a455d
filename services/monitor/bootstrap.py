"""Composition root of the monitor: real adapters unless the caller hands in others."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Unpack

from aiokafka import ConsumerRecord

from schemas import utcnow
from services.common.settings import load_settings
from services.common.wiring import Given, Ports, adapters
from services.monitor.config import MonitorConfig, MonitorSettings
from services.monitor.state import Checkpoint, MonitorState

DeadLetter = Callable[[ConsumerRecord[bytes, bytes], BaseException], Awaitable[None]]


@dataclass
class Monitor(Ports):
    config: MonitorConfig
    dead_letter: DeadLetter
    clock: Callable[[], datetime] = utcnow
    state: MonitorState = field(init=False)
    saved: Checkpoint | None = None  # the last checkpoint written: a failed batch goes back to it
    # Records and the timer both change the state; one at a time.
    busy: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.state = MonitorState(self.config.policy())


def bootstrap(
    *,
    dead_letter: DeadLetter,
    settings: MonitorSettings | None = None,
    **given: Unpack[Given],
) -> Monitor:
    """Real adapters, except those given (fakes in tests)."""
    settings = settings or load_settings(MonitorSettings)
    return Monitor(
        config=settings.monitor,
        dead_letter=dead_letter,
        **adapters(settings, service="monitor", **given),
    )
