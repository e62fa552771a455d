"""The curator: the referee committee labels the recent images; a dataset version is written."""

from __future__ import annotations

import asyncio
import json

from schemas import DatasetCurated, Event, IterationAborted, RetrainRequested
from schemas.datasets import DatasetManifest
from services.common.models import fetch_images
from services.common.registry import CHAMPION, ModelNotFound
from services.common.store import get_model, put_model
from services.curator.bootstrap import Curator
from services.curator.domain import Candidate, NotEnoughSamples, Selection, Vote, curate, select

PRODUCER = "curator"


async def retrain_requested(event: RetrainRequested, c: Curator) -> None:
    key = f"curate:{event.iteration_id}"
    if await c.coordination.is_done(key):
        return
    outcome = await asyncio.to_thread(curate_iteration, event, c)
    await c.publish(outcome)
    await c.coordination.mark_done(key)


def curate_iteration(event: RetrainRequested, c: Curator) -> Event:
    """Label, select, merge, split and store; or say why the iteration cannot go on."""
    try:
        selection = committee(event, c)
        manifest = curate(
            selection.kept,
            iteration_id=event.iteration_id,
            previous=previous_manifest(c),
            classes=classes(c),
            policy=c.config.policy(),
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
    run_id = record(event, selection, manifest, c, uri=uri, sha=sha)
    return DatasetCurated(
        producer=PRODUCER,
        **event.caused(),
        iteration_id=event.iteration_id,
        line_id=event.line_id,
        manifest_uri=uri,
        manifest_sha256=sha,
        considered=len({ref.sha256 for ref in event.images}),
        selected=len(selection.kept),
        disagreements=len(selection.disagreements),
        split_sizes=manifest.counts(),
        class_counts=class_counts(manifest),
        mlflow_run_id=run_id,
    )


def committee(event: RetrainRequested, c: Curator) -> Selection:
    refs = [ref for ref in event.images if ref.uri is not None]
    images = fetch_images(c.store, refs)
    b1, b2 = c.referees()
    votes = [[Vote(label, conf) for label, conf in ref.classify(images)] for ref in (b1, b2)]
    candidates = [Candidate(ref.sha256, ref.uri or "") for ref in refs]
    return select(candidates, votes[0], votes[1], threshold=c.config.confidence_threshold)


def previous_manifest(c: Curator) -> DatasetManifest | None:
    if not c.config.merge_with_previous:
        return None
    champion = c.registry.by_alias(c.model_name, CHAMPION)
    uri = champion.tags.get("manifest_uri") if champion else None
    return get_model(c.store, uri, DatasetManifest) if uri else None


def classes(c: Curator) -> tuple[str, ...]:
    champion = c.registry.by_alias(c.model_name, CHAMPION)
    if champion is None:
        raise ModelNotFound(f"no champion of {c.model_name!r} to curate for")
    return champion.classes


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
) -> str:
    """The dataset version in MLflow: committee figures and the manifest itself."""
    run_id = c.tracking.start_run(
        f"curate-{event.iteration_id}",
        tags={"iteration_id": event.iteration_id, "line_id": event.line_id, "stage": "curate"},
    )
    c.tracking.log_params(run_id, c.config.model_dump())
    c.tracking.log_dataset(run_id, name=manifest.name, digest=sha, uri=uri, context="curated")
    for key, value in {
        "considered": len(event.images),
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
