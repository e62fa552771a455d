"""Deterministic CPU training loop with optional augmentation (services.common.augment)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import WeightedRandomSampler

from services.common.augment import GENERIC, Augmentation, augment
from services.common.vision import accuracy, to_tensor


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; augment switches on the generic augmentation."""

    epochs: int = 8
    lr: float = 2e-3
    batch_size: int = 64
    seed: int = 0
    weight_decay: float = 1e-4
    augment: bool = False

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 2 or self.lr <= 0 or self.weight_decay < 0:
            raise ValueError(f"invalid training settings: {self}")


class Interrupted(Exception):
    """Training stopped early because the process was asked to stop."""


@dataclass(frozen=True)
class EpochStats:
    """Progress after one epoch."""

    epoch: int
    epochs: int
    train_loss: float
    val_accuracy: float


def _epoch_order(
    n: int, sampler: WeightedRandomSampler | None, generator: torch.Generator
) -> torch.Tensor:
    """Shuffled indices, or a weighted draw with replacement when a sampler is given."""
    if sampler is None:
        return torch.randperm(n, generator=generator)
    return torch.tensor(list(sampler), dtype=torch.int64)


def _check_inputs(
    x: np.ndarray, y: np.ndarray, x_val: np.ndarray, sample_weight: np.ndarray | None
) -> None:
    """Fail early on shapes that would otherwise break mid-epoch."""
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"need as many labels as images (got {len(x)} and {len(y)})")
    if len(x_val) == 0:
        raise ValueError("validation set is empty")
    if sample_weight is not None and (len(sample_weight) != len(y) or np.any(sample_weight < 0)):
        raise ValueError("sample_weight must be non-negative, one per training image")


def train(
    model: nn.Module,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    *,
    config: TrainConfig,
    sample_weight: np.ndarray | None = None,
    on_epoch: Callable[[EpochStats], None] | None = None,
    augmentation: Augmentation = GENERIC,
    stop: Callable[[], bool] = lambda: False,
) -> list[EpochStats]:
    """Train in place with AdamW and a cosine schedule; the model is left in eval mode.
    `stop` is asked before every step; when it says so, `Interrupted` is raised."""
    _check_inputs(x_train, y_train, x_val, sample_weight)
    loop = _Loop.start(
        model,
        to_tensor(x_train),
        torch.from_numpy(y_train.astype(np.int64)),
        config=config,
        augmentation=augmentation,
        stop=stop,
    )
    sampler = _sampler(sample_weight, loop.generator)
    history: list[EpochStats] = []
    for epoch in range(1, config.epochs + 1):
        loss = loop.epoch(_epoch_order(len(y_train), sampler, loop.generator))
        history.append(EpochStats(epoch, config.epochs, loss, accuracy(model, x_val, y_val)))
        if on_epoch is not None:
            on_epoch(history[-1])
    model.eval()
    return history


def _sampler(
    sample_weight: np.ndarray | None, generator: torch.Generator
) -> WeightedRandomSampler | None:
    """A with-replacement sampler drawing as many samples as there are weights."""
    if sample_weight is None:
        return None
    weights = [float(w) for w in sample_weight]
    return WeightedRandomSampler(weights, len(weights), replacement=True, generator=generator)


@dataclass
class _Loop:
    """The mutable state of one training run."""

    model: nn.Module
    x: torch.Tensor
    y: torch.Tensor
    config: TrainConfig
    augmentation: Augmentation
    optimizer: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LRScheduler
    # A private generator drives shuffling and augmentation: same seed, same run, and the
    # caller's global RNG is left alone.
    generator: torch.Generator
    stop: Callable[[], bool]

    @classmethod
    def start(
        cls,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        config: TrainConfig,
        augmentation: Augmentation,
        stop: Callable[[], bool],
    ) -> _Loop:
        """Optimiser and a cosine schedule spanning every step of the run."""
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        steps = config.epochs * -(-len(y) // config.batch_size)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(steps, 1))
        generator = torch.Generator().manual_seed(config.seed)
        return cls(model, x, y, config, augmentation, optimizer, schedule, generator, stop)

    def epoch(self, order: torch.Tensor) -> float:
        """One pass over `order`; returns the mean training loss."""
        self.model.train()
        total, seen = 0.0, 0
        for batch in torch.split(order, self.config.batch_size):
            if len(batch) < 2:  # BatchNorm cannot train on a single image at 1x1 resolution
                continue
            if self.stop():
                raise Interrupted("training stopped before it finished")
            total += self.step(batch) * len(batch)
            seen += len(batch)
        return total / max(seen, 1)

    def step(self, batch: torch.Tensor) -> float:
        """One optimiser step on the given sample indices."""
        inputs = self.x[batch]
        if self.config.augment:
            inputs = augment(inputs, self.generator, self.augmentation)
        loss = nn.functional.cross_entropy(self.model(inputs), self.y[batch])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        self.optimizer.step()
        self.schedule.step()
        return loss.item()
