"""A seeded demo production line: digits as parts, drawn defects, and a drift from the zoo."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

from services.common.vision import CLASSES
from yieldloop.drifts import DEFAULT_DRIFT, DEFAULT_STRENGTH, drift_named

SIZE = 32
DEFECTS: tuple[str, ...] = ("scratch", "blob", "chunk")
DEFAULT_DRIFT_STRENGTH = DEFAULT_STRENGTH
_POOL_SEED = 20_240_601  # fixed, so the pools stay disjoint whatever seed a caller passes


@dataclass(frozen=True)
class Part:
    """One inspected part: a uint8 32x32 image and its ground truth."""

    image: np.ndarray
    label: str
    defect: str | None
    drifted: bool


@dataclass(frozen=True)
class LabeledImages:
    """float32 (N, 32, 32) images in [0, 1] with int64 class indices per CLASSES."""

    x: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        if self.x.ndim != 3 or len(self.x) != len(self.y):
            raise ValueError(f"bad shapes: x {self.x.shape}, y {self.y.shape}")

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class _Pools:
    train: np.ndarray
    golden: np.ndarray
    stream: np.ndarray


def _upscale(digit: np.ndarray) -> np.ndarray:
    """8x8 digit (0-16) to a 32x32 float image in [0, 1], bilinear."""
    small = Image.fromarray((digit / 16.0).astype(np.float32))
    return np.asarray(small.resize((SIZE, SIZE), Image.Resampling.BILINEAR), dtype=np.float32)


@functools.lru_cache(maxsize=1)
def _pools() -> _Pools:
    """All 1,797 digits upscaled, split 60/20/20 into disjoint train/golden/stream pools."""
    digits = load_digits().images
    images = np.clip(np.stack([_upscale(d) for d in digits]), 0.0, 1.0)
    order = np.random.default_rng(_POOL_SEED).permutation(len(images))
    a, b = int(0.6 * len(order)), int(0.8 * len(order))
    return _Pools(images[order[:a]], images[order[a:b]], images[order[b:]])


def _quantise(image: np.ndarray) -> np.ndarray:
    """What the camera sends: uint8 gray."""
    scaled: np.ndarray = np.rint(np.clip(image, 0.0, 1.0) * 255.0)
    return scaled.astype(np.uint8)


def _scratch(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A bright straight line at least 12 px long, one or two pixels thick."""
    start = rng.uniform(4, SIZE - 4, size=2)
    angle, length = rng.uniform(0, np.pi), rng.uniform(12, 22)
    end = np.clip(start + length * np.array([np.sin(angle), np.cos(angle)]), 1, SIZE - 2)
    points = np.linspace(start, end, 64).round().astype(int)
    out = image.copy()
    for dr, dc in [(0, 0), (0, 1)][: int(rng.integers(1, 3))]:
        out[points[:, 0] + dr, points[:, 1] + dc] = rng.uniform(0.85, 1.0)
    return out


def _blob(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A bright round spot of radius 2-3.5 px."""
    rows, cols = np.mgrid[:SIZE, :SIZE]
    center, radius = rng.uniform(6, SIZE - 6, size=2), rng.uniform(2.0, 3.5)
    disc = (rows - center[0]) ** 2 + (cols - center[1]) ** 2 <= radius**2
    return np.where(disc, np.maximum(image, 1.0), image)


def _chunk(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An 8x8 piece missing, placed where it removes the most ink among a few tries."""
    corners = rng.integers(0, SIZE - 8, size=(6, 2))
    ink = [image[r : r + 8, c : c + 8].sum() for r, c in corners]
    r, c = corners[int(np.argmax(ink))]
    out = image.copy()
    out[r : r + 8, c : c + 8] = 0.0
    return out


_DRAW: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "scratch": _scratch,
    "blob": _blob,
    "chunk": _chunk,
}


def _shift(image: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Move the part by whole pixels, filling with background (np.roll would wrap ink around)."""
    padded: np.ndarray = np.pad(image, 1)
    return padded[1 - rows : 1 - rows + SIZE, 1 - cols : 1 - cols + SIZE]


def _make_part(pool: np.ndarray, defect: str | None, rng: np.random.Generator) -> np.ndarray:
    """A clean part from the pool, nudged by a pixel and a little sensor noise, maybe defective."""
    image = pool[rng.integers(len(pool))]
    image = _shift(image, *rng.integers(-1, 2, size=2))
    image = np.clip(image + rng.normal(0.0, 0.01, image.shape), 0.0, 1.0)
    return image if defect is None else _DRAW[defect](image, rng)


def _draw_defect_kind(ng_rate: float, rng: np.random.Generator) -> str | None:
    """None for a good part, else one of DEFECTS."""
    return str(rng.choice(DEFECTS)) if rng.random() < ng_rate else None


class DemoLine:
    """An endless seeded stream of parts from digits never used for training or the golden set."""

    def __init__(
        self,
        *,
        seed: int = 0,
        ng_rate: float = 0.15,
        drift_strength: float = DEFAULT_DRIFT_STRENGTH,
        drift_kind: str = DEFAULT_DRIFT,
    ) -> None:
        if not 0.0 <= ng_rate <= 1.0:
            raise ValueError(f"ng_rate must be in [0, 1], got {ng_rate}")
        self.ng_rate = ng_rate
        self.drift_strength = drift_strength
        self.drift_kind = drift_kind
        self._drift = drift_named(drift_kind)
        # Drift noise has its own stream, so switching drift on leaves the parts sequence as is.
        self._rng = np.random.default_rng([seed, 3])
        self._drift_rng = np.random.default_rng([seed, 5])

    def parts(self, n: int, *, drift: bool, strength: float | None = None) -> list[Part]:
        """The next n parts; drift applies the line's drift at `strength` (default: the line's)."""
        level = self.drift_strength if strength is None else strength
        return [self._part(drift=drift, strength=level) for _ in range(n)]

    def _part(self, *, drift: bool, strength: float) -> Part:
        defect = _draw_defect_kind(self.ng_rate, self._rng)
        image = _make_part(_pools().stream, defect, self._rng)
        if drift:
            image = self._drift(image, strength, self._drift_rng)
        label = CLASSES[0] if defect is None else CLASSES[1]
        return Part(_quantise(image), label, defect, drift)


def to_labeled(parts: list[Part]) -> LabeledImages:
    """Parts as training arrays (labels as class indices)."""
    x = np.stack([p.image for p in parts]).astype(np.float32) / np.float32(255.0)
    y = np.array([CLASSES.index(p.label) for p in parts], dtype=np.int64)
    return LabeledImages(x, y)


def _labeled_set(
    pool: np.ndarray,
    size: int,
    rng: np.random.Generator,
    *,
    ng_rate: float,
) -> LabeledImages:
    """Exactly round(size * ng_rate) NG parts, shuffled, with defects spread evenly."""
    n_ng = round(size * ng_rate)
    kinds: list[str | None] = [DEFECTS[i % len(DEFECTS)] for i in range(n_ng)]
    kinds += [None] * (size - n_ng)
    kinds = [kinds[i] for i in rng.permutation(size)]
    images = [_make_part(pool, kind, rng) for kind in kinds]
    x = np.stack([_quantise(image) for image in images]).astype(np.float32) / np.float32(255.0)
    y = np.array([0 if kind is None else 1 for kind in kinds], dtype=np.int64)
    return LabeledImages(x, y)


def base_sets(
    seed: int = 0, *, train_size: int = 3000, golden_size: int = 500, ng_rate: float = 0.15
) -> tuple[LabeledImages, LabeledImages]:
    """The clean training set and the fixed golden test set, from disjoint digit pools."""
    golden_rng = np.random.default_rng([seed, 2])
    golden = _labeled_set(_pools().golden, golden_size, golden_rng, ng_rate=ng_rate)
    return _train_set(seed, train_size, ng_rate=ng_rate), golden


def _train_set(seed: int, size: int, *, ng_rate: float) -> LabeledImages:
    return _labeled_set(_pools().train, size, np.random.default_rng([seed, 1]), ng_rate=ng_rate)
