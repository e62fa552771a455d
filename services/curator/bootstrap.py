"""Composition root of the curator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Unpack

from services.common.models import LoadedModel, load_alias
from services.common.settings import load_settings
from services.common.wiring import Given, Ports, adapters
from services.curator.config import CuratorConfig, CuratorSettings
from services.curator.selection import Vote


@dataclass
class Curator(Ports):
    config: CuratorConfig
    referee_names: tuple[str, str]
    _referees: dict[str, LoadedModel] = field(default_factory=dict)
    golden_votes: dict[str, list[Vote]] = field(default_factory=dict)  # per referee version

    def referees(self) -> tuple[LoadedModel, LoadedModel]:
        """The two referees' champion versions, reloaded only when an alias moved."""
        loaded = []
        for name in self.referee_names:
            current = self.registry.by_alias(name, "champion")
            cached = self._referees.get(name)
            if cached is None or current is None or cached.version != current:
                cached = self._referees[name] = load_alias(self.registry, name)
            loaded.append(cached)
        return loaded[0], loaded[1]


def bootstrap(*, settings: CuratorSettings | None = None, **given: Unpack[Given]) -> Curator:
    """Real adapters, except those given (fakes in tests)."""
    settings = settings or load_settings(CuratorSettings)
    return Curator(
        config=settings.curator,
        referee_names=settings.mlflow.referee_names,
        **adapters(settings, service="curator", **given),
    )
