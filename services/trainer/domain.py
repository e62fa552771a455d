"""Rules of the trainer: what the fine-tune sees and how often."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from schemas.datasets import ManifestEntry


def sample_weights(
    entries: Sequence[ManifestEntry],
    *,
    iteration_id: str,
    recent_share: float,
    class_weights: Mapping[str, float],
) -> np.ndarray:
    """Sampling weights for the fine-tune: this iteration's few samples get `recent_share` of the
    draws, and classes listed in `class_weights` are drawn that many times more often (a missed
    defect costs more than a false reject)."""
    recent = np.array([e.source == f"iteration:{iteration_id}" for e in entries])
    n_recent = int(recent.sum())
    if n_recent in (0, len(entries)):
        weights = np.full(len(entries), 1.0 / len(entries))
    else:
        old_share = (1 - recent_share) / (len(entries) - n_recent)
        weights = np.where(recent, recent_share / n_recent, old_share)
    boost = np.array([class_weights.get(e.label, 1.0) for e in entries])
    return np.asarray(weights * boost, dtype=np.float64)


def class_indices(entries: Sequence[ManifestEntry], classes: Sequence[str]) -> np.ndarray:
    index = {name: i for i, name in enumerate(classes)}
    unknown = {e.label for e in entries} - index.keys()
    if unknown:
        raise ValueError(f"labels {sorted(unknown)} are not classes of the model {list(classes)}")
    return np.array([index[e.label] for e in entries], dtype=np.int64)
