"""Composition root of the gatekeeper."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Unpack

from services.common.settings import Backoff, load_settings
from services.common.wiring import Given, Ports, adapters
from services.gatekeeper.config import GatekeeperConfig, GatekeeperSettings
from services.gatekeeper.notices import Notice
from services.gatekeeper.notifiers import Notifier
from services.gatekeeper.notifiers import notifiers as real_notifiers

# A notice that could not be delivered: kept on the dead-letter topic with the error.
Park = Callable[[Notice, str, BaseException], Awaitable[None]]


@dataclass
class Gatekeeper(Ports):
    config: GatekeeperConfig
    park: Park
    notifiers: list[Notifier] = field(default_factory=list)
    notify_backoff: Backoff = field(default_factory=Backoff)


def bootstrap(
    *,
    park: Park,
    settings: GatekeeperSettings | None = None,
    notifiers: list[Notifier] | None = None,
    **given: Unpack[Given],
) -> Gatekeeper:
    """Real adapters, except those given (fakes in tests)."""
    settings = settings or load_settings(GatekeeperSettings)
    return Gatekeeper(
        config=settings.gatekeeper,
        park=park,
        notifiers=notifiers if notifiers is not None else real_notifiers(settings.notify),
        notify_backoff=settings.notify.retry,
        **adapters(settings, service="gatekeeper", **given),
    )
