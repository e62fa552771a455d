"""The fine-tune an iteration runs: the champion's own weights, trained further on the dataset
version with the trainer's settings. Callable without Kafka or MLflow, so that measurements (the
oracle of `make efficacy`, the bench) run the very same code."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from torch import nn

from schemas.datasets import DatasetManifest, Split
from services.common.models import fetch_images, ref
from services.common.store import ImageStore
from services.common.training import EpochStats, train
from services.trainer.config import TrainerConfig
from services.trainer.domain import class_indices, sample_weights


@dataclass(frozen=True)
class TrainingSet:
    """A dataset version's train and val images at the model's size, as class indices."""

    x: np.ndarray
    y: np.ndarray
    weights: np.ndarray  # draws per training image (recent samples, weighted classes)
    x_val: np.ndarray
    y_val: np.ndarray


def training_set(
    manifest: DatasetManifest,
    store: ImageStore,
    *,
    classes: tuple[str, ...],
    size: int,
    iteration_id: str,
    config: TrainerConfig,
) -> TrainingSet:
    train_part, val_part = manifest.split(Split.TRAIN), manifest.split(Split.VAL)
    x, x_val = (
        fetch_images(store, [ref(e) for e in part], size=size) for part in (train_part, val_part)
    )
    weights = sample_weights(
        train_part,
        iteration_id=iteration_id,
        recent_share=config.recent_share,
        class_weights=config.class_weights,
    )
    return TrainingSet(
        x, class_indices(train_part, classes), weights, x_val, class_indices(val_part, classes)
    )


def fine_tune(
    module: nn.Module,
    data: TrainingSet,
    *,
    config: TrainerConfig,
    on_epoch: Callable[[EpochStats], None] | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> list[EpochStats]:
    """Train `module` in place; it is left in eval mode."""
    return train(
        module,
        data.x,
        data.y,
        data.x_val,
        data.y_val,
        config=config.train_config(),
        sample_weight=data.weights,
        on_epoch=on_epoch,
        stop=stop,
    )
