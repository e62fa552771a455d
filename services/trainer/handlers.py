"""The trainer: fine-tune the champion on the curated dataset, register the challenger."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from schemas import DatasetCurated, ModelCandidate, TrainingProgressed
from schemas.datasets import DatasetManifest, Split
from services.common import models, vision
from services.common.registry import CHALLENGER, CHAMPION, ModelNotFound, ModelVersion
from services.common.store import get_model
from services.common.training import EpochStats, train
from services.trainer.bootstrap import Trainer
from services.trainer.domain import class_indices, sample_weights

PRODUCER = "trainer"


async def dataset_curated(event: DatasetCurated, t: Trainer) -> None:
    """Training runs in a worker thread so the consumer keeps heartbeating meanwhile."""
    key = f"train:{event.iteration_id}"
    if await t.coordination.is_done(key):
        return
    loop = asyncio.get_running_loop()

    def progress(stats: EpochStats) -> None:
        asyncio.run_coroutine_threadsafe(
            t.publish(
                TrainingProgressed(
                    producer=PRODUCER,
                    **event.caused(),
                    iteration_id=event.iteration_id,
                    line_id=event.line_id,
                    epoch=stats.epoch,
                    epochs=stats.epochs,
                    train_loss=stats.train_loss,
                    val_accuracy=stats.val_accuracy,
                )
            ),
            loop,
        ).result()

    await t.coordination.set_status(key, {"state": "training"})
    mv = await asyncio.to_thread(fine_tune, event, t, progress)
    await t.publish(
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
        )
    )
    await t.coordination.set_status(key, {"state": "done", "version": mv.version})
    await t.coordination.mark_done(key)


def fine_tune(
    event: DatasetCurated, t: Trainer, progress: Callable[[EpochStats], None]
) -> ModelVersion:
    champion = t.registry.by_alias(t.model_name, CHAMPION)
    if champion is None:
        raise ModelNotFound(f"no champion of {t.model_name!r} to train from")
    manifest = get_model(t.store, event.manifest_uri, DatasetManifest)
    train_set, val_set = manifest.split(Split.TRAIN), manifest.split(Split.VAL)
    x, xv = (models.fetch_images(t.store, [models.ref(e) for e in s]) for s in (train_set, val_set))
    y, yv = class_indices(train_set, champion.classes), class_indices(val_set, champion.classes)
    module = models.load(t.registry, champion, warmup=0).module
    run_id = t.tracking.start_run(
        f"train-{event.iteration_id}",
        tags={
            "iteration_id": event.iteration_id,
            "line_id": event.line_id,
            "stage": "train",
            "parent_version": champion.version,
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
        {**t.config.model_dump(), "arch": champion.arch, "train_size": len(y), "val_size": len(yv)},
    )

    def on_epoch(stats: EpochStats) -> None:
        t.tracking.log_metric(run_id, "train_loss", stats.train_loss, step=stats.epoch)
        t.tracking.log_metric(run_id, "val_accuracy", stats.val_accuracy, step=stats.epoch)
        progress(stats)

    weights = sample_weights(
        train_set,
        iteration_id=event.iteration_id,
        recent_share=t.config.recent_share,
        class_weights=t.config.class_weights,
    )
    train(
        module,
        x,
        y,
        xv,
        yv,
        config=t.config.train_config(),
        sample_weight=weights,
        on_epoch=on_epoch,
    )
    mv = t.registry.register(
        t.model_name,
        vision.weights_bytes(module),
        arch=champion.arch,
        classes=champion.classes,
        run_id=run_id,
        tags={
            "iteration_id": event.iteration_id,
            "line_id": event.line_id,
            "manifest_uri": event.manifest_uri,
            "manifest_sha256": event.manifest_sha256,
            "golden_manifest_uri": champion.tags.get("golden_manifest_uri", ""),
            "parent_version": champion.version,
        },
    )
    t.registry.set_alias(t.model_name, CHALLENGER, mv.version)
    t.tracking.end_run(run_id)
    return mv
