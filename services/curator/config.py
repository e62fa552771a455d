"""Settings of the curator (`curator:` in config/yieldloop.yaml, YIELDLOOP_CURATOR__*)."""

from __future__ import annotations

import dataclasses

from pydantic import Field

from services.common.settings import CommonSettings, Listens
from services.curator.domain import CommitteePolicy, DepthPolicy
from services.curator.selection import Rule, SelectionPolicy


class CuratorConfig(Listens):
    port: int = Field(8002, ge=1, le=65535)
    selection: Rule = Rule.AGREEMENT_CONFIDENCE
    confidence_threshold: float = Field(0.7, ge=0, le=1)
    margin_share: float = Field(0.5, gt=0, le=1)
    max_class_share: float = Field(0.9, ge=0.5, le=1)
    referee_max_confidence_drop: float = Field(0.2, ge=0, le=1)
    referee_max_balance_shift: float = Field(0.05, ge=0, le=1)
    referee_balance_alpha: float = Field(0.001, gt=0, lt=1)
    val_ratio: float = Field(0.1, ge=0, lt=1)
    holdout_ratio: float = Field(0.2, ge=0, lt=1)
    merge_with_previous: bool = True
    min_selected: int = Field(30, ge=1)
    seed: int = 0

    def policy(self) -> CommitteePolicy:
        names = {f.name for f in dataclasses.fields(CommitteePolicy)}
        return CommitteePolicy(**self.model_dump(include=names))

    def selection_policy(self) -> SelectionPolicy:
        return SelectionPolicy(
            rule=self.selection,
            confidence_threshold=self.confidence_threshold,
            margin_share=self.margin_share,
            max_class_share=self.max_class_share,
        )

    def depth_policy(self) -> DepthPolicy:
        return DepthPolicy(
            max_confidence_drop=self.referee_max_confidence_drop,
            max_balance_shift=self.referee_max_balance_shift,
            balance_alpha=self.referee_balance_alpha,
        )


class CuratorSettings(CommonSettings):
    curator: CuratorConfig = CuratorConfig()
