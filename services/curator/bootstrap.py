"""Composition root of the curator."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.common.coordination import Coordination, RedisCoordination
from services.common.kafka import Publish
from services.common.models import LoadedModel, load_alias, registry_from
from services.common.registry import ModelRegistry
from services.common.settings import load_settings
from services.common.store import ImageStore, LocalImageStore
from services.common.tracking import Tracking, tracking_from
from services.curator.config import CuratorConfig, CuratorSettings


@dataclass
class Curator:
    config: CuratorConfig
    model_name: str
    referee_names: tuple[str, str]
    store: ImageStore
    registry: ModelRegistry
    tracking: Tracking
    coordination: Coordination
    publish: Publish
    _referees: dict[str, LoadedModel] = field(default_factory=dict)

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


def bootstrap(
    *,
    publish: Publish,
    settings: CuratorSettings | None = None,
    store: ImageStore | None = None,
    registry: ModelRegistry | None = None,
    tracking: Tracking | None = None,
    coordination: Coordination | None = None,
) -> Curator:
    settings = settings or load_settings(CuratorSettings)
    return Curator(
        config=settings.curator,
        model_name=settings.mlflow.model_name,
        referee_names=settings.mlflow.referee_names,
        store=store or LocalImageStore(settings.store_root),
        registry=registry or registry_from(settings),
        tracking=tracking or tracking_from(settings),
        coordination=coordination or RedisCoordination.from_url(settings.redis_url),
        publish=publish,
    )
