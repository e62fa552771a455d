"""A handful of cheap numbers per image that move when the camera or the light changes.

The inference service computes them on the pixels the model sees and sends them with each
prediction; the monitor compares a window of them with a reference to notice an input shift,
whatever the model makes of it."""

from __future__ import annotations

import math

import numpy as np

STATS = ("mean", "contrast", "dark", "bright", "edges", "centre_row", "centre_col")
DARK, BRIGHT = 0.10, 0.99  # the quantiles of the dark and bright ends


def image_stats(image: np.ndarray) -> dict[str, float]:
    """Intensity level and spread, dark and bright ends, edge energy, and where the ink sits
    (its centre relative to the frame's, in image sides) of one gray (H, W) image in [0, 1]."""
    if image.ndim != 2 or image.size == 0:
        raise ValueError(f"expected a 2-D gray image, got shape {image.shape}")
    [stats] = batch_stats(image[None])
    return stats


def batch_stats(images: np.ndarray) -> list[dict[str, float]]:
    """`image_stats` of each gray image of an (N, H, W) stack, in a few array operations for
    the whole stack rather than a dozen per image. Every image is one row of the stack's flat
    view; each pass over the pixels serves as many statistics as it can."""
    if images.ndim != 3 or images.size == 0:
        raise ValueError(f"expected a stack of 2-D gray images, got shape {images.shape}")
    x = images.astype(np.float64, copy=False)
    count, rows, cols = x.shape
    flat = x.reshape(count, rows * cols)
    dark, bright = quantiles(flat, (DARK, BRIGHT))
    mean = flat.mean(axis=1)
    spread = flat - mean[:, None]
    contrast = np.sqrt(np.mean(spread * spread, axis=1))
    edges = (_step(x[:, 1:, :] - x[:, :-1, :]) + _step(x[:, :, 1:] - x[:, :, :-1])) / 2
    ink = np.maximum(spread, 0.0).reshape(count, rows, cols)
    total = ink.sum(axis=(1, 2))
    some = total > 0
    safe = np.where(some, total, 1.0)
    centre_row = np.where(
        some, (ink.sum(axis=2) @ (np.arange(rows) + 0.5)) / safe / rows - 0.5, 0.0
    )
    centre_col = np.where(
        some, (ink.sum(axis=1) @ (np.arange(cols) + 0.5)) / safe / cols - 0.5, 0.0
    )
    columns = (mean, contrast, dark, bright, edges, centre_row, centre_col)
    return [dict(zip(STATS, values, strict=True)) for values in np.stack(columns, axis=1).tolist()]


def quantiles(rows: np.ndarray, qs: tuple[float, ...]) -> list[np.ndarray]:
    """Each quantile of each row of a 2-D array, as `np.quantile` computes it (its default,
    linear method, to the bit): the few order statistics needed are partitioned out once,
    rather than a full quantile computation per call."""
    last = rows.shape[1] - 1
    at = [q * last for q in qs]
    below = [math.floor(a) for a in at]
    picks = sorted({i for b in below for i in (b, min(b + 1, last))})
    ordered = np.partition(rows, picks, axis=1)
    found = []
    for a, b in zip(at, below, strict=True):
        low, high, t = ordered[:, b], ordered[:, min(b + 1, last)], a - b
        # numpy's own interpolation: from the nearer neighbour, so that t = 1 gives `high`
        found.append(high - (high - low) * (1 - t) if t >= 0.5 else low + (high - low) * t)
    return found


def _step(differences: np.ndarray) -> np.ndarray:
    """The mean absolute difference between neighbours, per image (NaN where it has none)."""
    count = differences.shape[0]
    if differences.size == 0:
        return np.full(count, np.nan)
    means: np.ndarray = np.abs(differences).reshape(count, -1).mean(axis=1)
    return means
