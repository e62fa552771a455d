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
    x = image.astype(np.float64, copy=False)
    dark, bright = np.percentile(x, [10.0, 99.0])
    edges = (np.abs(np.diff(x, axis=0)).mean() + np.abs(np.diff(x, axis=1)).mean()) / 2
    ink = np.maximum(x - x.mean(), 0.0)
    total = ink.sum()
    rows, cols = x.shape
    if total > 0:
        centre_row = float((ink.sum(axis=1) * (np.arange(rows) + 0.5)).sum() / total) / rows - 0.5
        centre_col = float((ink.sum(axis=0) * (np.arange(cols) + 0.5)).sum() / total) / cols - 0.5
    else:
        centre_row = centre_col = 0.0
    return {
        "mean": float(x.mean()),
        "contrast": float(x.std()),
        "dark": float(dark),
        "bright": float(bright),
        "edges": float(edges),
        "centre_row": centre_row,
        "centre_col": centre_col,
    }
