"""What the fine-tune draws: the iteration's few samples get their share, defects count more."""

from __future__ import annotations

import numpy as np

from schemas.datasets import ManifestEntry, Split
from services.trainer.domain import sample_weights


def entry(i: int, label: str, source: str) -> ManifestEntry:
    return ManifestEntry(
        sha256=f"{i:064x}", uri=f"memory://{i}", label=label, split=Split.TRAIN, source=source
    )


def test_recent_samples_get_their_share_of_draws() -> None:
    entries = [entry(i, "OK", "base") for i in range(90)]
    entries += [entry(100 + i, "OK", "iteration:it-1") for i in range(10)]

    w = sample_weights(entries, iteration_id="it-1", recent_share=0.3, class_weights={})

    assert np.isclose(w[90:].sum() / w.sum(), 0.3)


def test_defects_are_drawn_more_often() -> None:
    entries = [entry(i, "OK", "base") for i in range(80)] + [
        entry(80 + i, "NG", "base") for i in range(20)
    ]

    w = sample_weights(entries, iteration_id="it-1", recent_share=0.3, class_weights={"NG": 4.0})

    assert np.isclose(w[80:].sum() / w.sum(), 0.5)  # 20 x 4 against 80 x 1
