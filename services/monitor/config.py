"""Settings of the monitor (`monitor:` in config/yieldloop.yaml, YIELDLOOP_MONITOR__*)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from services.common.settings import CommonSettings
from services.monitor.domain import MonitorPolicy


class MonitorConfig(BaseModel):
    yield_threshold: float | None = Field(0.7, ge=0, le=1)
    recent_window: int = Field(29, ge=1)
    yield_drop_tolerance: float = Field(0.05, ge=0, le=1)
    threshold_floor: float = Field(0.6, ge=0, le=1)
    ok_labels: list[str] = Field(default_factory=lambda: ["OK"], min_length=1)
    baseline_predictions: int = Field(100, ge=1)
    low_confidence: float = Field(0.6, ge=0, le=1)
    confirm_predictions: int = Field(400, ge=0)
    recover_margin: float = Field(0.05, ge=0, le=1)
    cooldown_predictions: int = Field(58, ge=0)
    retry_cooldown_predictions: int = Field(1200, ge=0)
    sample_limit: int = Field(600, ge=1)
    report_every: int = Field(10, ge=1)
    iteration_timeout_s: float = Field(1800, gt=0)

    def policy(self) -> MonitorPolicy:
        fields = self.model_dump(exclude={"iteration_timeout_s", "ok_labels"})
        return MonitorPolicy(**fields, ok_labels=frozenset(self.ok_labels))


class MonitorSettings(CommonSettings):
    monitor: MonitorConfig = MonitorConfig()
