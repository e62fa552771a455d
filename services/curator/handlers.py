"""The curator: the referee committee labels the recent images; a dataset version is written.
Drops queued from other lines while this iteration waited join it here, once."""

from __future__ import annotations

import asyncio
import json

from schemas import (
    DatasetCurated,
    Event,
    ImageRef,
    IterationAborted,
    RetrainQueued,
    RetrainRequested,
)
from schemas.datasets import DatasetManifest
from services.common import faults
from services.common.iteration import Iteration, Stage
from services.common.models import fetch_images
from services.common.registry import CHAMPION, ModelNotFound, ModelVersion
from services.common.stage import StageSpec, run_stage
from services.common.store import get_model, put_model
from services.common.tracking import close_interrupted
from services.curator.bootstrap import Curator
from services.curator.domain import Candidate, NotEnoughSamples, Selection, Vote, curate, select

PRODUCER = "curator"
STAGE = StageSpec(PRODUCER, needs=Stage.REQUESTED, records=(Stage.CURATED, Stage.ABORTED))


async def retrain_requested(event: RetrainRequested, c: Curator) -> str:
    async def curated(_: Iteration) -> list[Event]:
        joined = await c.ledger.claim(event.iteration_id)
        outcome = await asyncio.to_thread(curate_iteration, event, joined, c)
        faults.point("curator.after_effect")
        return [outcome]

    return await run_stage(event, STAGE, c, work=curated)


def candidates(event: RetrainRequested, joined: list[RetrainQueued]) -> list[ImageRef]:
    """The iteration's own images, then those of the drops that joined it, each once."""
    unique: dict[str, ImageRef] = {}
    for ref in [*event.images, *(ref for drop in joined for ref in drop.images)]:
        if ref.uri is not None:
            unique.setdefault(ref.sha256, ref)
    return list(unique.values())


def curate_iteration(event: RetrainRequested, joined: list[RetrainQueued], c: Curator) -> Event:
    """Label, select, merge, split and store; or say why the iteration cannot go on."""
    try:
        base = champion(c)
        refs = candidates(event, joined)
        selection = committee(refs, c)
        manifest = curate(
            selection.kept,
            iteration_id=event.iteration_id,
            previous=previous_manifest(base, c),
            classes=base.classes,
            policy=c.config.policy(),
            parent_sha256=base.tags.get("manifest_sha256") or None,
        )
    except (NotEnoughSamples, ModelNotFound) as exc:
        return IterationAborted(
            producer=PRODUCER,
            **event.caused(),
            iteration_id=event.iteration_id,
            line_id=event.line_id,
            stage="curator",
            reason=str(exc),
        )
    uri, sha = put_model(c.store, manifest)
    run_id = record(event, selection, manifest, c, uri=uri, sha=sha, considered=len(refs))
    return DatasetCurated(
        producer=PRODUCER,
        **event.caused(),
        iteration_id=event.iteration_id,
        line_id=event.line_id,
        manifest_uri=uri,
        manifest_sha256=sha,
        considered=len(refs),
        selected=len(selection.kept),
        disagreements=len(selection.disagreements),
        split_sizes=manifest.counts(),
        class_counts=class_counts(manifest),
        mlflow_run_id=run_id,
        base_version=base.version,
        joined=[drop.event_id for drop in joined],
    )


def committee(refs: list[ImageRef], c: Curator) -> Selection:
    images = fetch_images(c.store, refs)
    b1, b2 = c.referees()
    votes = [[Vote(label, conf) for label, conf in ref.classify(images)] for ref in (b1, b2)]
    candidates = [Candidate(ref.sha256, ref.uri or "") for ref in refs]
    return select(candidates, votes[0], votes[1], threshold=c.config.confidence_threshold)


def previous_manifest(base: ModelVersion, c: Curator) -> DatasetManifest | None:
    if not c.config.merge_with_previous:
        return None
    uri = base.tags.get("manifest_uri")
    return get_model(c.store, uri, DatasetManifest) if uri else None


def champion(c: Curator) -> ModelVersion:
    """The serving model the dataset is built against: its classes, its training set."""
    found = c.registry.by_alias(c.model_name, CHAMPION)
    if found is None:
        raise ModelNotFound(f"no champion of {c.model_name!r} to curate for")
    return found


def class_counts(manifest: DatasetManifest) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in manifest.entries:
        counts[entry.label] = counts.get(entry.label, 0) + 1
    return counts


def record(
    event: RetrainRequested,
    selection: Selection,
    manifest: DatasetManifest,
    c: Curator,
    *,
    uri: str,
    sha: str,
    considered: int,
) -> str:
    """The dataset version in MLflow: committee figures and the manifest itself."""
    tags = {"iteration_id": event.iteration_id, "stage": "curate"}
    close_interrupted(c.tracking, tags)
    run_id = c.tracking.start_run(
        f"curate-{event.iteration_id}", tags={**tags, "line_id": event.line_id}
    )
    c.tracking.log_params(run_id, c.config.model_dump())
    c.tracking.log_dataset(run_id, name=manifest.name, digest=sha, uri=uri, context="curated")
    for key, value in {
        "considered": considered,
        "selected": len(selection.kept),
        "disagreements": len(selection.disagreements),
        "unsure": len(selection.unsure),
        **manifest.counts(),
    }.items():
        c.tracking.log_metric(run_id, key, float(value))
    c.tracking.log_text(
        run_id, json.dumps(manifest.model_dump(), indent=1), "dataset/manifest.json"
    )
    c.tracking.end_run(run_id)
    return run_id
