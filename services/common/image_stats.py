"""A handful of cheap numbers per image that move when the camera or the light changes.

The inference service computes them on the pixels the model sees and sends them with each
prediction; the monitor compares a window of them with a reference to notice an input shift,
whatever the model makes of it."""

from __future__ import annotations

import numpy as np

STATS = ("mean", "contrast", "dark", "bright", "edges", "centre_row", "centre_col")


def image_stats(image: np.ndarray) -> dict[str, float]:
    """Intensity level and spread, dark and bright ends, edge energy, and where the ink sits
    (its centre relative to the frame's, in image sides) of one gray (H, W) image in [0, 1]."""
    if image.ndim != 2 or image.size == 0:
        raise ValueError(f"expected a 2-D gray image, got shape {image.shape}")
    [stats] = batch_stats(image[None])
    return stats


def batch_stats(images: np.ndarray) -> list[dict[str, float]]:
    """`image_stats` of each gray image of an (N, H, W) stack, in a few array operations for
    the whole stack rather than a dozen per image."""
    if images.ndim != 3 or images.size == 0:
        raise ValueError(f"expected a stack of 2-D gray images, got shape {images.shape}")
    x = images.astype(np.float64, copy=False)
    count, rows, cols = x.shape
    dark, bright = np.percentile(x.reshape(count, -1), [10.0, 99.0], axis=1)
    edges = (
        np.abs(np.diff(x, axis=1)).mean(axis=(1, 2)) + np.abs(np.diff(x, axis=2)).mean(axis=(1, 2))
    ) / 2
    mean = x.mean(axis=(1, 2))
    ink = np.maximum(x - mean[:, None, None], 0.0)
    total = ink.sum(axis=(1, 2))
    some = total > 0
    safe = np.where(some, total, 1.0)
    centre_row = np.where(
        some, (ink.sum(axis=2) @ (np.arange(rows) + 0.5)) / safe / rows - 0.5, 0.0
    )
    centre_col = np.where(
        some, (ink.sum(axis=1) @ (np.arange(cols) + 0.5)) / safe / cols - 0.5, 0.0
    )
    contrast = x.std(axis=(1, 2))
    columns = (mean, contrast, dark, bright, edges, centre_row, centre_col)
    return [dict(zip(STATS, values, strict=True)) for values in np.stack(columns, axis=1).tolist()]
