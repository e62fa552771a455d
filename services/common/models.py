"""Loading registered models safely and judging images with them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from torch import nn

from schemas import ImageRef, utcnow
from schemas.datasets import ManifestEntry
from services.common import vision
from services.common.images import decode_image
from services.common.mlflow_registry import MlflowRegistry
from services.common.registry import CHAMPION, ModelNotFound, ModelRegistry, ModelVersion
from services.common.settings import CommonSettings
from services.common.store import ImageStore, image_bytes


@dataclass(frozen=True)
class LoadedModel:
    version: ModelVersion
    module: nn.Module
    loaded_at: datetime
    warmup_ms: float = 0.0

    def classify(self, images: np.ndarray) -> list[tuple[str, float]]:
        """(class name, confidence) per image."""
        indices, confidences = vision.predict(self.module, images)
        names = self.version.classes
        return [(names[i], float(c)) for i, c in zip(indices, confidences, strict=True)]

    def labels(self, images: np.ndarray) -> list[str]:
        return [label for label, _ in self.classify(images)]


def registry_from(settings: CommonSettings) -> ModelRegistry:
    return MlflowRegistry(settings.mlflow_uri, experiment=settings.mlflow.experiment)


def load(registry: ModelRegistry, mv: ModelVersion, *, warmup: int = 8) -> LoadedModel:
    """Fetch weights (checked against their sha256), build the module, warm it up off-path."""
    weights = registry.weights(mv)
    module = vision.load_weights(mv.arch, weights, sha256=mv.sha256, num_classes=len(mv.classes))
    started = time.perf_counter()
    if warmup:
        vision.predict(module, np.zeros((warmup, vision.IMAGE_SIZE, vision.IMAGE_SIZE), np.float32))
    return LoadedModel(mv, module, utcnow(), (time.perf_counter() - started) * 1000)


def champion(registry: ModelRegistry, name: str, alias: str = CHAMPION) -> ModelVersion:
    mv = registry.by_alias(name, alias)
    if mv is None:
        raise ModelNotFound(
            f"no {alias!r} version of {name!r} is registered "
            "(`yieldloop bootstrap` registers the first ones)"
        )
    return mv


def load_alias(registry: ModelRegistry, name: str, alias: str = CHAMPION) -> LoadedModel:
    return load(registry, champion(registry, name, alias))


def fetch_images(store: ImageStore, refs: Sequence[ImageRef]) -> np.ndarray:
    """Decode images from the store (or inline) into one (N, 32, 32) float array."""
    size = vision.IMAGE_SIZE
    arrays = [decode_image(image_bytes(store, ref), size=size) for ref in refs]
    return np.stack(arrays) if arrays else np.zeros((0, size, size), np.float32)


def ref(entry: ManifestEntry) -> ImageRef:
    """The image of a dataset entry, as a claim check."""
    return ImageRef(sha256=entry.sha256, uri=entry.uri)
