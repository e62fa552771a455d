"""Rules of the trainer: what the fine-tune sees and how often."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from schemas.datasets import ManifestEntry


def recent_weights(
    entries: Sequence[ManifestEntry], *, iteration_id: str, recent_share: float
) -> np.ndarray | None:
    """Sampling weights that give this iteration's few samples `recent_share` of the draws;
    None when the set is all old or all new (plain shuffling then)."""
    recent = np.array([e.source == f"iteration:{iteration_id}" for e in entries])
    n_recent = int(recent.sum())
    if n_recent in (0, len(entries)):
        return None
    return np.where(recent, recent_share / n_recent, (1 - recent_share) / (len(entries) - n_recent))


def class_indices(entries: Sequence[ManifestEntry], classes: Sequence[str]) -> np.ndarray:
    index = {name: i for i, name in enumerate(classes)}
    unknown = {e.label for e in entries} - index.keys()
    if unknown:
        raise ValueError(f"labels {sorted(unknown)} are not classes of the model {list(classes)}")
    return np.array([index[e.label] for e in entries], dtype=np.int64)
