"""The figures of one efficacy row, measured against the simulator's truth after the live run.

What the line got is read from the live predictions; what it could have got is trained offline
with the loop's own code: the oracle (the iteration's candidate images with their true labels,
curated and fine-tuned exactly as the iteration's were) and, where the loop refused to train, the
candidate it would have trained on the referees' labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from torch import nn

from schemas import ImageRef, PredictionMade
from schemas.datasets import DatasetManifest
from services.common import models
from services.common.registry import ModelRegistry, ModelVersion
from services.common.store import ImageStore, get_model
from services.common.vision import predict
from services.curator.config import CuratorConfig
from services.curator.domain import curate
from services.curator.selection import Candidate, Labelled, Vote, select
from services.trainer.config import TrainerConfig
from services.trainer.fit import fine_tune, training_set
from yieldloop.truth import TruthRow


@dataclass(frozen=True)
class Lab:
    """Where measuring reads and what it trains with: the loop's own settings."""

    store: ImageStore
    registry: ModelRegistry
    curator: CuratorConfig
    trainer: TrainerConfig
    referee_names: tuple[str, str]


@dataclass(frozen=True)
class Judged:
    """Images with their true labels, as the models see them."""

    refs: list[ImageRef]
    labels: list[str]

    def share(self, predicted: Sequence[str]) -> float | None:
        hits = [p == t for p, t in zip(predicted, self.labels, strict=True)]
        return sum(hits) / len(hits) if hits else None


def live_accuracy(
    predictions: Sequence[PredictionMade], truth: dict[str, TruthRow]
) -> float | None:
    """Share of the predictions that match the truth of their part."""
    hits = [
        p.label == truth[p.item_id].label
        for p in predictions
        if p.item_id in truth and truth[p.item_id].label is not None
    ]
    return sum(hits) / len(hits) if hits else None


def judged(predictions: Sequence[PredictionMade], truth: dict[str, TruthRow]) -> Judged:
    pairs = [(p.image, truth[p.item_id].label) for p in predictions if p.item_id in truth]
    return Judged([ref for ref, label in pairs if label], [label for _, label in pairs if label])


def accuracy(module: nn.Module, version: ModelVersion, on: Judged, lab: Lab) -> float | None:
    images = models.fetch_images(lab.store, on.refs, size=models.image_size(version))
    indices, _ = predict(module, images)
    return on.share([version.classes[i] for i in indices])


def loaded(version: ModelVersion, lab: Lab) -> nn.Module:
    return models.load(lab.registry, version, warmup=0).module


def fine_tuned(
    base: ModelVersion, kept: Sequence[Labelled], *, iteration_id: str, lab: Lab
) -> nn.Module:
    """The base model fine-tuned on `kept` exactly as an iteration would: curated over the base's
    own training set, split, sampled and trained with the loop's settings."""
    uri = base.tags.get("manifest_uri")
    previous = get_model(lab.store, uri, DatasetManifest) if uri else None
    dataset = curate(
        kept,
        iteration_id=iteration_id,
        previous=previous if lab.curator.merge_with_previous else None,
        classes=base.classes,
        policy=lab.curator.policy(),
    )
    data = training_set(
        dataset,
        lab.store,
        classes=base.classes,
        size=models.image_size(base),
        iteration_id=iteration_id,
        config=lab.trainer,
    )
    module = loaded(base, lab)
    fine_tune(module, data, config=lab.trainer)
    return module


def truly_labelled(candidates: Sequence[ImageRef], truth: dict[str, str]) -> list[Labelled]:
    return [
        Labelled(ref.sha256, ref.uri or "", truth[ref.sha256])
        for ref in candidates
        if ref.sha256 in truth
    ]


def referee_votes(candidates: Sequence[ImageRef], lab: Lab) -> list[list[Vote]]:
    out = []
    for name in lab.referee_names:
        referee = models.load_alias(lab.registry, name)
        images = models.fetch_images(lab.store, candidates, size=referee.image_size)
        out.append([Vote(label, c, m) for label, c, m in referee.votes(images)])
    return out


def referee_accuracies(
    votes: list[list[Vote]], candidates: Sequence[ImageRef], truth: dict[str, str]
) -> list[float | None]:
    on = Judged(list(candidates), [truth.get(ref.sha256, "") for ref in candidates])
    return [on.share([v.label for v in vs]) for vs in votes]


def committee_labels(
    candidates: Sequence[ImageRef], votes: list[list[Vote]], lab: Lab
) -> list[Labelled]:
    """What the configured selection rule keeps of the referees' labels."""
    pool = [Candidate(ref.sha256, ref.uri or "") for ref in candidates]
    return select(pool, votes[0], votes[1], policy=lab.curator.selection_policy()).kept


def mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if values else None
