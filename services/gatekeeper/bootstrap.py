"""Composition root of the gatekeeper."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Unpack

from services.common.settings import load_settings
from services.common.wiring import Given, Ports, adapters
from services.gatekeeper.config import GatekeeperConfig, GatekeeperSettings


@dataclass
class Gatekeeper(Ports):
    config: GatekeeperConfig


def bootstrap(*, settings: GatekeeperSettings | None = None, **given: Unpack[Given]) -> Gatekeeper:
    """Real adapters, except those given (fakes in tests)."""
    settings = settings or load_settings(GatekeeperSettings)
    return Gatekeeper(
        config=settings.gatekeeper, **adapters(settings, service="gatekeeper", **given)
    )
