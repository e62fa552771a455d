"""Settings of the trainer (`trainer:` in config/yieldloop.yaml, YIELDLOOP_TRAINER__*)."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import CommonSettings, Listens
from services.common.training import TrainConfig


class TrainerConfig(Listens):
    port: int = Field(8003, ge=1, le=65535)
    epochs: int = Field(4, ge=1)
    lr: float = Field(2e-3, gt=0)
    batch_size: int = Field(64, ge=1)
    weight_decay: float = Field(1e-4, ge=0)
    seed: int = 0
    augment: bool = False
    class_weights: dict[str, float] = Field(default_factory=lambda: {"NG": 5.0})
    recent_share: float = Field(0.3, gt=0, lt=1)  # share of draws given to this iteration's samples

    def train_config(self) -> TrainConfig:
        return TrainConfig(
            epochs=self.epochs,
            lr=self.lr,
            batch_size=self.batch_size,
            seed=self.seed,
            weight_decay=self.weight_decay,
            augment=self.augment,
        )


class TrainerSettings(CommonSettings):
    trainer: TrainerConfig = TrainerConfig()
