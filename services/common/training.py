"""Deterministic CPU training loop with optional photometric augmentation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import WeightedRandomSampler

from services.common.vision import accuracy, to_tensor


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; augment switches on the photometric augmentation."""

    epochs: int = 8
    lr: float = 2e-3
    batch_size: int = 64
    seed: int = 0
    weight_decay: float = 1e-4
    augment: bool = False

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 2 or self.lr <= 0 or self.weight_decay < 0:
            raise ValueError(f"invalid training settings: {self}")


@dataclass(frozen=True)
class Photometric:
    """Lighting changes a referee must shrug off: overexposure, bloom and sensor noise."""

    gain: tuple[float, float] = (1.0, 2.6)
    max_blur_mix: float = 0.5
    max_noise: float = 0.08
    clean_share: float = 0.3


class Interrupted(Exception):
    """Training stopped early because the process was asked to stop."""


@dataclass(frozen=True)
class EpochStats:
    """Progress after one epoch."""

    epoch: int
    epochs: int
    train_loss: float
    val_accuracy: float


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    """n per-sample factors in [low, high), shaped to broadcast over (N, 1, H, W)."""
    return (low + (high - low) * torch.rand(n, 1, 1, 1, generator=generator)).float()


def _blur(x: torch.Tensor) -> torch.Tensor:
    """5x5 Gaussian blur (sigma 1) of an (N, 1, H, W) batch."""
    taps = torch.exp(-0.5 * torch.arange(-2.0, 3.0) ** 2)
    taps = taps / taps.sum()
    kernel = (taps[:, None] * taps[None, :]).view(1, 1, 5, 5)
    return nn.functional.conv2d(x, kernel, padding=2)


def augment(x: torch.Tensor, generator: torch.Generator, spec: Photometric) -> torch.Tensor:
    """Random gain with clipping, bloom and noise; a share of the batch is left clean."""
    n = x.shape[0]
    out = torch.clamp(x * _uniform(n, *spec.gain, generator), 0.0, 1.0)
    mix = _uniform(n, 0.0, spec.max_blur_mix, generator)
    out = (1.0 - mix) * out + mix * _blur(out)
    sigma = _uniform(n, 0.0, spec.max_noise, generator)
    out = torch.clamp(out + sigma * torch.randn(out.shape, generator=generator), 0.0, 1.0)
    clean = torch.rand(n, 1, 1, 1, generator=generator) < spec.clean_share
    return torch.where(clean, x, out)


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
    photometric: Photometric = Photometric(),
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
        photometric=photometric,
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
    photometric: Photometric
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
        photometric: Photometric,
        stop: Callable[[], bool],
    ) -> _Loop:
        """Optimiser and a cosine schedule spanning every step of the run."""
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        steps = config.epochs * -(-len(y) // config.batch_size)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(steps, 1))
        generator = torch.Generator().manual_seed(config.seed)
        return cls(model, x, y, config, photometric, optimizer, schedule, generator, stop)

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
            inputs = augment(inputs, self.generator, self.photometric)
        loss = nn.functional.cross_entropy(self.model(inputs), self.y[batch])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        self.optimizer.step()
        self.schedule.step()
        return loss.item()
