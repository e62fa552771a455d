"""Composition root of the monitor: real adapters unless the caller hands in others."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from schemas import ImageRef
from services.common.coordination import Coordination, RedisCoordination
from services.common.kafka import Publish
from services.common.settings import load_settings
from services.monitor.config import MonitorConfig, MonitorSettings
from services.monitor.domain import LineMonitor


@dataclass(frozen=True)
class OpenIteration:
    iteration_id: str
    opened_at: float


@dataclass
class Monitor:
    config: MonitorConfig
    coordination: Coordination
    publish: Publish
    clock: Callable[[], float] = time.monotonic
    lines: dict[str, LineMonitor[ImageRef]] = field(default_factory=dict)
    open: dict[str, OpenIteration] = field(default_factory=dict)

    def line(self, line_id: str) -> LineMonitor[ImageRef]:
        if line_id not in self.lines:
            self.lines[line_id] = LineMonitor(self.config.policy())
        return self.lines[line_id]


def bootstrap(
    *,
    publish: Publish,
    settings: MonitorSettings | None = None,
    coordination: Coordination | None = None,
) -> Monitor:
    settings = settings or load_settings(MonitorSettings)
    coordination = coordination or RedisCoordination.from_url(settings.redis_url)
    return Monitor(config=settings.monitor, coordination=coordination, publish=publish)
