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

    @property
    def image_size(self) -> int:
        return image_size(self.version)

    def labels(self, images: np.ndarray) -> list[str]:
        return [label for label, _ in self.classify(images)]

    def votes(self, images: np.ndarray) -> list[tuple[str, float, float]]:
        """(class name, confidence, margin over the runner-up) per image."""
        indices, confidences, margins = vision.predict_with_margin(self.module, images)
        names = self.version.classes
        return [
            (names[i], float(c), float(m))
            for i, c, m in zip(indices, confidences, margins, strict=True)
        ]


def registry_from(settings: CommonSettings) -> ModelRegistry:
    return MlflowRegistry(settings.mlflow_uri, experiment=settings.mlflow.experiment)


def image_size(mv: ModelVersion) -> int:
    """The side of the square gray images the version judges (its `image_size` tag; 32 px for
    versions registered before the tag existed)."""
    return int(mv.tags.get("image_size", vision.IMAGE_SIZE))


def load(registry: ModelRegistry, mv: ModelVersion, *, warmup: int = 8) -> LoadedModel:
    """Fetch weights (checked against their sha256), build the module, warm it up off-path."""
    weights = registry.weights(mv)
    size = image_size(mv)
    module = vision.load_weights(
        mv.arch, weights, sha256=mv.sha256, num_classes=len(mv.classes), image_size=size
    )
    started = time.perf_counter()
    if warmup:
        vision.predict(module, np.zeros((warmup, size, size), np.float32))
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


def fetch_images(
    store: ImageStore, refs: Sequence[ImageRef], *, size: int = vision.IMAGE_SIZE
) -> np.ndarray:
    """Decode images from the store (or inline) into one (N, size, size) float array."""
    arrays = [decode_image(image_bytes(store, ref), size=size) for ref in refs]
    return np.stack(arrays) if arrays else np.zeros((0, size, size), np.float32)


def ref(entry: ManifestEntry) -> ImageRef:
    """The image of a dataset entry, as a claim check."""
    return ImageRef(sha256=entry.sha256, uri=entry.uri)
