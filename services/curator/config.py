"""Settings of the curator (`curator:` in config/yieldloop.yaml, YIELDLOOP_CURATOR__*)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from services.common.settings import CommonSettings
from services.curator.domain import CommitteePolicy


class CuratorConfig(BaseModel):
    confidence_threshold: float = Field(0.7, ge=0, le=1)
    val_ratio: float = Field(0.1, ge=0, lt=1)
    holdout_ratio: float = Field(0.2, ge=0, lt=1)
    merge_with_previous: bool = True
    min_selected: int = Field(30, ge=1)
    seed: int = 0

    def policy(self) -> CommitteePolicy:
        return CommitteePolicy(**self.model_dump())


class CuratorSettings(CommonSettings):
    curator: CuratorConfig = CuratorConfig()
