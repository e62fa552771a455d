"""Settings of the monitor (`monitor:` in config/yieldloop.yaml, YIELDLOOP_MONITOR__*)."""

from __future__ import annotations

import dataclasses

from pydantic import Field

from services.common.settings import CommonSettings, Listens
from services.monitor.domain import MonitorPolicy
from services.monitor.signals import Signal, SignalPolicy


class MonitorConfig(Listens):
    port: int = Field(8001, ge=1, le=65535)
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
    accuracy_window: int = Field(100, ge=1)
    iteration_timeout_s: float = Field(1800, gt=0)
    tick_s: float = Field(1.0, gt=0)
    batch_max: int = Field(2000, ge=1)
    batch_wait_ms: int = Field(50, ge=0)
    batch_record_bytes: int = Field(600, ge=1)  # a typical PredictionMade, to size a batch's fetch
    signals: list[Signal] = Field(default_factory=lambda: list(Signal), min_length=1)
    mix_shift_threshold: float = Field(0.3, gt=0, le=1)
    confidence_drop: float = Field(0.15, gt=0, le=1)
    low_confidence_rise: float = Field(0.25, gt=0, le=1)
    input_shift_threshold: float = Field(1.0, gt=0)
    input_recover_margin: float = Field(0.25, ge=0)

    def policy(self) -> MonitorPolicy:
        names = {f.name for f in dataclasses.fields(MonitorPolicy)} - {"ok_labels", "signals"}
        return MonitorPolicy(
            **self.model_dump(include=names),
            ok_labels=frozenset(self.ok_labels),
            signals=SignalPolicy(
                enabled=frozenset(self.signals),
                mix_shift=self.mix_shift_threshold,
                confidence_drop=self.confidence_drop,
                low_confidence_rise=self.low_confidence_rise,
                input_shift=self.input_shift_threshold,
                input_recover_margin=self.input_recover_margin,
            ),
        )


class MonitorSettings(CommonSettings):
    monitor: MonitorConfig = MonitorConfig()
