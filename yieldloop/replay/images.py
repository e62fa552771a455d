"""Recorded images judged again by any registered version: how often it agrees with what was
served, and — where the truth is known — which of the two was right. Read-only."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from schemas import PredictionMade
from services.common.models import LoadedModel, fetch_images
from services.common.store import BlobCorrupt, BlobNotFound, ImageStore

BATCH = 256


@dataclass(frozen=True)
class Judgement:
    item_id: str
    line_id: str
    sha256: str
    served: str
    served_version: str
    replayed: str
    confidence: float
    truth: str | None


def distinct(predictions: Sequence[PredictionMade]) -> list[PredictionMade]:
    """Each prediction once, however often it was republished."""
    return list({p.event_id: p for p in predictions}.values())


def rejudge(
    predictions: Sequence[PredictionMade],
    model: LoadedModel,
    store: ImageStore,
    truth: Mapping[str, str],
) -> tuple[list[Judgement], int]:
    """The judgements, and how many images could not be read back from the store."""
    found, missing = [], 0
    for start in range(0, len(predictions), BATCH):
        chunk = []
        for p in predictions[start : start + BATCH]:
            try:
                chunk.append((p, fetch_images(store, [p.image])[0]))
            except (BlobNotFound, BlobCorrupt):
                missing += 1
        if not chunk:
            continue
        verdicts = model.classify(np.stack([pixels for _, pixels in chunk]))
        for (p, _), (label, confidence) in zip(chunk, verdicts, strict=True):
            found.append(
                Judgement(
                    p.item_id,
                    p.line_id,
                    p.image.sha256,
                    p.label,
                    p.model_version,
                    label,
                    confidence,
                    truth.get(p.item_id) or truth.get(p.image.sha256),
                )
            )
    return found, missing


def summary(judged: Sequence[Judgement], *, version: str, missing: int) -> dict[str, Any]:
    known = [j for j in judged if j.truth is not None]
    by_version: dict[str, list[Judgement]] = {}
    for j in judged:
        by_version.setdefault(j.served_version, []).append(j)
    return {
        "version": version,
        "images": len(judged),
        "missing_images": missing,
        "agreement": _share([j.served == j.replayed for j in judged]),
        "agreement_by_served_version": {
            v: {"images": len(js), "agreement": _share([j.served == j.replayed for j in js])}
            for v, js in sorted(by_version.items())
        },
        "served_labels": dict(Counter(j.served for j in judged)),
        "replayed_labels": dict(Counter(j.replayed for j in judged)),
        "with_truth": len(known),
        "served_accuracy": _share([j.served == j.truth for j in known]),
        "replayed_accuracy": _share([j.replayed == j.truth for j in known]),
    }


def _share(hits: list[bool]) -> float | None:
    return sum(hits) / len(hits) if hits else None
