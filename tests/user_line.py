"""A user's own line for tests: washers photographed at 48 px, nothing like the demo's digits.
A good washer is a full ring; a bad one has a chip out of it or a bright burr on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from services.common.images import encode_png

SIZE = 48


def washer(rng: np.random.Generator, defect: str | None) -> np.ndarray:
    rows, cols = np.mgrid[:SIZE, :SIZE].astype(np.float32)
    cy, cx = SIZE / 2 + rng.uniform(-2, 2, size=2)
    radius, width = rng.uniform(12, 15), rng.uniform(2.5, 3.5)
    distance = np.hypot(rows - cy, cols - cx)
    image = 0.1 + rng.uniform(0.65, 0.85) * np.exp(-(((distance - radius) / width) ** 2))
    angle = np.arctan2(rows - cy, cols - cx)
    if defect == "chip":
        start = rng.uniform(-np.pi, np.pi)
        gap = (angle - start) % (2 * np.pi) < rng.uniform(0.5, 0.8)
        image = np.where(gap & (distance > radius - 2 * width), 0.1, image)
    elif defect == "burr":
        at = rng.uniform(-np.pi, np.pi)
        by, bx = cy + radius * np.sin(at), cx + radius * np.cos(at)
        image = np.where(np.hypot(rows - by, cols - bx) < 2.5, 1.0, image)
    noisy = image + rng.normal(0.0, 0.02, image.shape)
    return np.clip(noisy, 0.0, 1.0).astype(np.float32)


def _draw(rng: np.random.Generator, ng_rate: float) -> str | None:
    return str(rng.choice(["chip", "burr"])) if rng.random() < ng_rate else None


def write_labelled(root: Path, n: int, *, seed: int = 0, ng_rate: float = 0.25) -> Path:
    """Class folders, as a user would sort them: root/OK/*.png and root/NG/*.png."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        defect = _draw(rng, ng_rate)
        folder = root / ("OK" if defect is None else "NG")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"washer-{i:05d}.png").write_bytes(encode_png(washer(rng, defect)))
    return root


def write_unlabelled(root: Path, n: int, *, seed: int = 1, ng_rate: float = 0.25) -> Path:
    """One folder of images in the order they come off the line, labels unknown."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        image = washer(rng, _draw(rng, ng_rate))
        (root / f"part-{i:05d}.png").write_bytes(encode_png(image))
    return root
