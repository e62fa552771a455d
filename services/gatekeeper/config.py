"""Settings of the gatekeeper (`gatekeeper:` in config/yieldloop.yaml, YIELDLOOP_GATEKEEPER__*)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from services.common.settings import CommonSettings, Listens
from services.gatekeeper.domain import GatePolicy
from services.gatekeeper.notifiers import NotifySettings


class GatekeeperConfig(Listens):
    port: int = Field(8004, ge=1, le=65535)
    metric: Literal["accuracy", "balanced_accuracy"] = "accuracy"
    min_improvement: float = Field(0.01, ge=0, le=1)
    golden_max_drop: float = Field(0.03, ge=0, le=1)
    recall_floors: dict[str, float] = Field(default_factory=lambda: {"NG": 0.9})

    def policy(self) -> GatePolicy:
        return GatePolicy(
            metric=self.metric,
            min_improvement=self.min_improvement,
            golden_max_drop=self.golden_max_drop,
            recall_floors=dict(self.recall_floors),
        )


class GatekeeperSettings(CommonSettings):
    gatekeeper: GatekeeperConfig = GatekeeperConfig()
    notify: NotifySettings = NotifySettings()
