"""The trainer: fine-tune the champion the dataset was built against, register the challenger.
Once per iteration: a version already tagged with the iteration is offered again, not retrained."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from schemas import DatasetCurated, Event, ModelCandidate, TrainingProgressed
from schemas.datasets import DatasetManifest
from services.common import faults, models, vision
from services.common.iteration import Iteration, Stage
from services.common.registry import CHALLENGER, CHAMPION, ModelNotFound, ModelVersion
from services.common.stage import StageSpec, run_stage
from services.common.store import get_model
from services.common.tracking import close_interrupted
from services.common.training import EpochStats, Interrupted
from services.trainer import fit
from services.trainer.bootstrap import Trainer
from services.trainer.fit import training_set

PRODUCER = "trainer"
log = logging.getLogger(__name__)
STAGE = StageSpec(PRODUCER, needs=Stage.CURATED, records=(Stage.TRAINED,))


async def dataset_curated(event: DatasetCurated, t: Trainer) -> str:
    async def candidate(_: Iteration) -> list[Event]:
        mv = await asyncio.to_thread(registered, event, t) or await fine_tune_off_loop(event, t)
        await asyncio.to_thread(t.registry.set_alias, t.model_name, CHALLENGER, mv.version)
        faults.point("trainer.after_effect")
        return [
            ModelCandidate(
                producer=PRODUCER,
                **event.caused(),
                iteration_id=event.iteration_id,
                line_id=event.line_id,
                model_name=mv.name,
                version=mv.version,
                run_id=mv.run_id or "",
                manifest_uri=event.manifest_uri,
                manifest_sha256=event.manifest_sha256,
                base_version=mv.tags.get("parent_version"),
            )
        ]

    return await run_stage(event, STAGE, t, work=candidate)


def registered(event: DatasetCurated, t: Trainer) -> ModelVersion | None:
    """The version this iteration registered before a crash, if there is one; its run, left
    RUNNING by the crash, did finish its work."""
    mv = t.registry.find(t.model_name, {"iteration_id": event.iteration_id})
    if mv is not None:
        for run_id in t.tracking.running({"iteration_id": event.iteration_id, "stage": "train"}):
            t.tracking.end_run(run_id)
    return mv


async def fine_tune_off_loop(event: DatasetCurated, t: Trainer) -> ModelVersion:
    """Training runs in a worker thread so the consumer keeps heartbeating meanwhile."""
    loop = asyncio.get_running_loop()

    def progress(stats: EpochStats) -> None:
        """Progress is for people watching; the broker being away must not stop training."""
        sent = asyncio.run_coroutine_threadsafe(t.publish(progressed(event, stats)), loop)
        try:
            sent.result(timeout=30)
        except Exception as exc:
            log.warning("progress of %s not published: %r", event.iteration_id, exc)

    key = f"train:{event.iteration_id}"
    await t.coordination.set_status(key, {"state": "training"})
    mv = await asyncio.to_thread(fine_tune, event, t, progress)
    await t.coordination.set_status(key, {"state": "done", "version": mv.version})
    return mv


def progressed(event: DatasetCurated, stats: EpochStats) -> TrainingProgressed:
    return TrainingProgressed(
        producer=PRODUCER,
        **event.caused(),
        iteration_id=event.iteration_id,
        line_id=event.line_id,
        epoch=stats.epoch,
        epochs=stats.epochs,
        train_loss=stats.train_loss,
        val_accuracy=stats.val_accuracy,
    )


def base_of(event: DatasetCurated, t: Trainer) -> ModelVersion:
    """The champion the curator built the dataset against (the current one for older events)."""
    if event.base_version is not None:
        return t.registry.get(t.model_name, event.base_version)
    champion = t.registry.by_alias(t.model_name, CHAMPION)
    if champion is None:
        raise ModelNotFound(f"no champion of {t.model_name!r} to train from")
    return champion


def fine_tune(
    event: DatasetCurated, t: Trainer, progress: Callable[[EpochStats], None]
) -> ModelVersion:
    base = base_of(event, t)
    manifest = get_model(t.store, event.manifest_uri, DatasetManifest)
    size = models.image_size(base)
    data = training_set(
        manifest,
        t.store,
        classes=base.classes,
        size=size,
        iteration_id=event.iteration_id,
        config=t.config,
    )
    module = models.load(t.registry, base, warmup=0).module
    tags = {"iteration_id": event.iteration_id, "stage": "train"}
    close_interrupted(t.tracking, tags)
    run_id = t.tracking.start_run(
        f"train-{event.iteration_id}",
        tags={
            **tags,
            "line_id": event.line_id,
            "parent_version": base.version,
            "manifest_sha256": event.manifest_sha256,
        },
    )
    t.tracking.log_dataset(
        run_id,
        name=manifest.name,
        digest=event.manifest_sha256,
        uri=event.manifest_uri,
        context="training",
    )
    t.tracking.log_params(
        run_id,
        {
            **t.config.model_dump(),
            "arch": base.arch,
            "train_size": len(data.y),
            "val_size": len(data.y_val),
        },
    )

    def on_epoch(stats: EpochStats) -> None:
        t.tracking.log_metric(run_id, "train_loss", stats.train_loss, step=stats.epoch)
        t.tracking.log_metric(run_id, "val_accuracy", stats.val_accuracy, step=stats.epoch)
        progress(stats)

    try:
        fit.fine_tune(
            module, data, config=t.config, on_epoch=on_epoch, stop=t.runtime.stopping.is_set
        )
    except Interrupted:
        t.tracking.end_run(run_id, status="KILLED")  # the record goes back uncommitted
        raise
    mv = t.registry.register(
        t.model_name,
        vision.weights_bytes(module),
        arch=base.arch,
        classes=base.classes,
        run_id=run_id,
        tags={
            "iteration_id": event.iteration_id,
            "line_id": event.line_id,
            "manifest_uri": event.manifest_uri,
            "manifest_sha256": event.manifest_sha256,
            "golden_manifest_uri": base.tags.get("golden_manifest_uri", ""),
            "parent_version": base.version,
            "image_size": str(size),
        },
    )
    t.tracking.end_run(run_id)
    return mv
