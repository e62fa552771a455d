"""Composition root of the trainer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Unpack

from services.common.settings import load_settings
from services.common.wiring import Given, Ports, adapters
from services.trainer.config import TrainerConfig, TrainerSettings


@dataclass
class Trainer(Ports):
    config: TrainerConfig


def bootstrap(*, settings: TrainerSettings | None = None, **given: Unpack[Given]) -> Trainer:
    """Real adapters, except those given (fakes in tests)."""
    settings = settings or load_settings(TrainerSettings)
    return Trainer(config=settings.trainer, **adapters(settings, service="trainer", **given))
