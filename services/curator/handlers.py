"""The curator: the referee committee labels the recent images; a dataset version is written.
Drops queued from other lines while this iteration waited join it here, once. When the referees
are out of their depth on these images, the iteration ends in an alert that asks people to label
them, with the images, instead of in a model."""

from __future__ import annotations

import asyncio
import json

from schemas import (
    AlertRaised,
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
from services.common.registry import CHAMPION, ModelNotFound, ModelVersion
from services.common.stage import StageSpec, run_stage
from services.common.store import get_model, put_model
from services.common.tracking import close_interrupted
from services.curator.bootstrap import Curator
from services.curator.committee import golden_labels, referee_views
from services.curator.domain import Depth, NotEnoughSamples, curate, depth
from services.curator.selection import Candidate, Selection, select

PRODUCER = "curator"
STAGE = StageSpec(PRODUCER, needs=Stage.REQUESTED, records=(Stage.CURATED, Stage.ABORTED))


async def retrain_requested(event: RetrainRequested, c: Curator) -> str:
    async def curated(_: Iteration) -> list[Event]:
        joined = await c.ledger.claim(event.iteration_id)
        outcome = await asyncio.to_thread(curate_iteration, event, joined, c)
        faults.point("curator.after_effect")
        return outcome

    return await run_stage(event, STAGE, c, work=curated)


def candidates(event: RetrainRequested, joined: list[RetrainQueued]) -> list[ImageRef]:
    """The iteration's own images, then those of the drops that joined it, each once."""
    unique: dict[str, ImageRef] = {}
    for ref in [*event.images, *(ref for drop in joined for ref in drop.images)]:
        if ref.uri is not None:
            unique.setdefault(ref.sha256, ref)
    return list(unique.values())


def curate_iteration(
    event: RetrainRequested, joined: list[RetrainQueued], c: Curator
) -> list[Event]:
    """Label, check the referees, select, merge, split and store; or say why the iteration
    cannot go on."""
    try:
        base = champion(c)
    except ModelNotFound as exc:
        return [aborted(event, str(exc))]
    refs = candidates(event, joined)
    golden = golden_labels(base, c)
    views = referee_views(refs, golden, c)
    judged = depth(views, golden[2], c.config.depth_policy()) if golden else None
    if judged is not None and judged.out:
        return out_of_depth(event, refs, judged, c)
    selection = select(
        [Candidate(ref.sha256, ref.uri or "") for ref in refs],
        views[0].recent,
        views[1].recent,
        policy=c.config.selection_policy(),
    )
    figures = {
        "considered": len(refs),
        **selection_figures(selection),
        **(judged.figures if judged else {}),
    }
    try:
        manifest = curate(
            selection.kept,
            iteration_id=event.iteration_id,
            previous=previous_manifest(base, c),
            classes=base.classes,
            policy=c.config.policy(),
            parent_sha256=base.tags.get("manifest_sha256") or None,
        )
    except NotEnoughSamples as exc:
        record(event, c, figures=figures, outcome="too_few")
        return [aborted(event, exc.reason)]
    uri, sha = put_model(c.store, manifest)
    run_id = record(event, c, figures=figures | manifest.counts(), manifest=(manifest, uri, sha))
    return [
        DatasetCurated(
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
    ]


def aborted(event: RetrainRequested, reason: str) -> IterationAborted:
    return IterationAborted(
        producer=PRODUCER,
        **event.caused(),
        iteration_id=event.iteration_id,
        line_id=event.line_id,
        stage="curator",
        reason=reason,
    )


def out_of_depth(
    event: RetrainRequested, refs: list[ImageRef], judged: Depth, c: Curator
) -> list[Event]:
    """No model from labels nobody can vouch for: the iteration ends, and people are asked to
    label the images (each named by its hash and where the store keeps it)."""
    record(event, c, figures={"considered": len(refs), **judged.figures}, outcome="out_of_depth")
    reason = "referees out of their depth: " + "; ".join(judged.reasons)
    return [
        aborted(event, reason),
        AlertRaised(
            producer=PRODUCER,
            **event.caused(),
            severity="critical",
            summary=f"line {event.line_id}: {reason}. People are needed to label"
            f" {len(refs)} images",
            iteration_id=event.iteration_id,
            line_id=event.line_id,
            details={
                "ask": "label these images",
                "reasons": judged.reasons,
                "figures": judged.figures,
                "images": [{"sha256": r.sha256, "uri": r.uri} for r in refs],
            },
        ),
    ]


def selection_figures(selection: Selection) -> dict[str, float]:
    return {
        "selected": len(selection.kept),
        "disagreements": len(selection.disagreements),
        "unsure": len(selection.unsure),
        **selection.figures,
    }


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
    c: Curator,
    *,
    figures: dict[str, float],
    manifest: tuple[DatasetManifest, str, str] | None = None,
    outcome: str = "curated",
) -> str:
    """The curation in MLflow: the selection rule and its figures, and the dataset version."""
    tags = {"iteration_id": event.iteration_id, "stage": "curate"}
    close_interrupted(c.tracking, tags)
    run_id = c.tracking.start_run(
        f"curate-{event.iteration_id}",
        tags={**tags, "line_id": event.line_id, "outcome": outcome, "signal": event.signal or ""},
    )
    c.tracking.log_params(run_id, c.config.model_dump())
    for key, value in figures.items():
        c.tracking.log_metric(run_id, key, float(value))
    if manifest is not None:
        dataset, uri, sha = manifest
        c.tracking.log_dataset(run_id, name=dataset.name, digest=sha, uri=uri, context="curated")
        c.tracking.log_text(
            run_id, json.dumps(dataset.model_dump(), indent=1), "dataset/manifest.json"
        )
    c.tracking.end_run(run_id)
    return run_id
