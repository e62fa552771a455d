"""The curator: the referee committee labels the recent images; a dataset version is written.
Drops queued from other lines while this iteration waited join it here, once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass

from schemas import (
    DatasetCurated,
    Event,
    ImageRef,
    IterationAborted,
    LabelProvided,
    RefereeVote,
    RetrainQueued,
    RetrainRequested,
    ReviewRequested,
    stable_id,
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
from services.curator.domain import (
    Candidate,
    Labelled,
    NotEnoughSamples,
    Selection,
    Vote,
    curate,
    select,
)
from services.curator.reviews import to_review

PRODUCER = "curator"
STAGE = StageSpec(PRODUCER, needs=Stage.REQUESTED, records=(Stage.CURATED, Stage.ABORTED))


@dataclass(frozen=True)
class Sample:
    ref: ImageRef
    line_id: str
    served: str | None  # the label the serving model gave it on the line


async def retrain_requested(event: RetrainRequested, c: Curator) -> str:
    async def curated(_: Iteration) -> list[Event]:
        joined = await c.ledger.claim(event.iteration_id)
        human = human_labels((await c.reviews.queue()).labelled.values())
        outcome = await asyncio.to_thread(curate_iteration, event, joined, human, c)
        faults.point("curator.after_effect")
        return outcome

    return await run_stage(event, STAGE, c, work=curated)


def candidates(event: RetrainRequested, joined: list[RetrainQueued]) -> list[Sample]:
    """The iteration's own images, then those of the drops that joined it, each once, with the
    line each came from and the label it was served."""
    unique: dict[str, Sample] = {}
    origins: list[RetrainRequested | RetrainQueued] = [event, *joined]
    for origin in origins:
        for ref in origin.images:
            if ref.uri is not None and ref.sha256 not in unique:
                served = origin.served.get(ref.sha256)
                unique[ref.sha256] = Sample(ref, origin.line_id, served)
    return list(unique.values())


def human_labels(labels: Iterable[LabelProvided]) -> list[Labelled]:
    return [
        Labelled(p.item, p.image.uri or "", p.label, source=f"review:{p.reviewer}")
        for p in labels
        if p.image.uri is not None
    ]


def curate_iteration(
    event: RetrainRequested, joined: list[RetrainQueued], human: list[Labelled], c: Curator
) -> list[Event]:
    """Label, select, merge, split and store, and ask people about what was dropped; or say
    why the iteration cannot go on (still asking people: their labels help the next one)."""
    asks: list[Event] = []
    try:
        base = champion(c)
        samples = candidates(event, joined)
        selection = committee([s.ref for s in samples], c)
        asks = review_requests(event, samples, selection, base, c)
        manifest = curate(
            selection.kept,
            iteration_id=event.iteration_id,
            previous=previous_manifest(base, c),
            classes=base.classes,
            policy=c.config.policy(),
            parent_sha256=base.tags.get("manifest_sha256") or None,
            human=human,
        )
    except (NotEnoughSamples, ModelNotFound) as exc:
        aborted = IterationAborted(
            producer=PRODUCER,
            **event.caused(),
            iteration_id=event.iteration_id,
            line_id=event.line_id,
            stage="curator",
            reason=str(exc),
        )
        return [aborted, *asks]
    refs = [s.ref for s in samples]
    uri, sha = put_model(c.store, manifest)
    run_id = record(event, selection, manifest, c, uri=uri, sha=sha, considered=len(refs))
    curated = DatasetCurated(
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
        human_labels=len({h.sha256 for h in human}),
    )
    return [curated, *asks]


def review_requests(
    event: RetrainRequested,
    samples: list[Sample],
    selection: Selection,
    base: ModelVersion,
    c: Curator,
) -> list[Event]:
    """One request per dropped image worth a person's look, with both referees' votes."""
    by_sha = {s.ref.sha256: s for s in samples}
    return [
        ReviewRequested(
            event_id=stable_id("review", event.iteration_id, ask.candidate.sha256),
            producer=PRODUCER,
            **event.caused(),
            iteration_id=event.iteration_id,
            line_id=by_sha[ask.candidate.sha256].line_id,
            item=ask.candidate.sha256,
            image=by_sha[ask.candidate.sha256].ref.without_data(),
            reason=ask.reason,
            votes=[
                RefereeVote(referee=name, label=vote.label, confidence=vote.confidence)
                for name, vote in zip(c.referee_names, ask.votes, strict=True)
            ],
            informativeness=ask.informativeness,
            classes=list(base.classes),
            served_label=by_sha[ask.candidate.sha256].served,
            champion_version=base.version,
        )
        for ask in to_review(selection, c.config.review_policy())
    ]


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
