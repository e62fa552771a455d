"""What the inference service does for each image, upload and model decision."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

import numpy as np

from schemas import ImageRef, ImageSubmitted, ModelApproved, ModelDeployed, PredictionMade
from services.common import models
from services.common.images import ImageRejected, decode_image
from services.common.models import LoadedModel
from services.common.store import image_bytes, sha256_of
from services.inference.bootstrap import Inference
from services.inference.domain import ModelSlot, zip_members

PRODUCER = "inference"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Judged:
    label: str
    confidence: float


async def start(svc: Inference) -> LoadedModel:
    """Load the champion before serving."""
    loaded = await asyncio.to_thread(models.load_alias, svc.registry, svc.model_name)
    svc.slot = ModelSlot(loaded)
    svc.metrics.serving_version.set(int(loaded.version.version))
    log.info("serving %s v%s", svc.model_name, loaded.version.version)
    return loaded


async def images_submitted(events: list[ImageSubmitted], svc: Inference) -> None:
    """Judge a batch from the line; an undecodable image is dead-lettered, the rest go on."""
    decoded: list[tuple[ImageSubmitted, bytes, np.ndarray]] = []
    for event in events:
        try:
            data = image_bytes(svc.store, event.image)
            decoded.append((event, data, decode(data, svc)))
        except (ImageRejected, KeyError, ValueError) as exc:
            svc.metrics.rejected.labels(type(exc).__name__).inc()
            await svc.dead_letter(event.model_dump_json().encode(), exc)
    if not decoded:
        return
    model, verdicts = await judge(np.stack([a for _, _, a in decoded]), "stream", svc)
    for (event, data, _), (label, confidence) in zip(decoded, verdicts, strict=True):
        await svc.publish(
            prediction(
                event.line_id,
                event.item_id,
                stored(data, svc),
                label,
                confidence,
                model,
                source="stream",
                cause=event,
            )
        )


async def predict_upload(data: bytes, filename: str | None, svc: Inference) -> Judged:
    """Judge one uploaded image; it is stored and reported like any image from the line."""
    array = decode(data, svc)
    model, [(label, confidence)] = await judge(array[None], "rest", svc)
    item_id = filename or uuid.uuid4().hex
    await svc.publish(
        prediction(
            svc.config.rest_line_id,
            item_id,
            stored(data, svc),
            label,
            confidence,
            model,
            source="rest",
        )
    )
    return Judged(label, confidence)


async def predict_zip(data: bytes, svc: Inference) -> list[tuple[str, Judged | str]]:
    """Judge every file of a zip; a file that is not an image gets its error instead."""
    results: list[tuple[str, Judged | str]] = []
    for name, member in zip_members(data, svc.zip_limits):
        try:
            results.append((name, await predict_upload(member, name, svc)))
        except ImageRejected as exc:
            results.append((name, str(exc)))
    return results


async def model_approved(event: ModelApproved, svc: Inference) -> None:
    """Load the approved version off the request path, then swap it in atomically."""
    key = f"deploy:{svc.config.replica_id}:{event.event_id}"
    if await svc.coordination.is_done(key):
        return
    mv = await asyncio.to_thread(svc.registry.get, event.model_name, event.version)
    loaded = await asyncio.to_thread(models.load, svc.registry, mv)
    assert svc.slot is not None
    svc.slot.swap(loaded)
    svc.metrics.swaps.inc()
    svc.metrics.serving_version.set(int(event.version))
    log.info("swapped to %s v%s", event.model_name, event.version)
    await svc.publish(
        ModelDeployed(
            producer=PRODUCER,
            **event.caused(),
            iteration_id=event.iteration_id,
            line_id=event.line_id,
            model_name=event.model_name,
            version=event.version,
            replica_id=svc.config.replica_id,
            loaded_at=loaded.loaded_at,
            warmup_ms=loaded.warmup_ms,
        )
    )
    await svc.coordination.mark_done(key)


async def judge(
    images: np.ndarray, source: str, svc: Inference
) -> tuple[LoadedModel, list[tuple[str, float]]]:
    """The serving model's verdicts, off the event loop, timed and counted."""
    model = svc.model  # read once: a swap meanwhile does not split the batch between models
    with svc.metrics.judge_seconds.labels(source).time():
        verdicts = await asyncio.to_thread(model.classify, images)
    for label, _ in verdicts:
        svc.metrics.predictions.labels(source, label).inc()
    return model, verdicts


def decode(data: bytes, svc: Inference) -> np.ndarray:
    return decode_image(
        data, max_bytes=svc.config.max_upload_bytes, max_pixels=svc.config.max_pixels
    )


def stored(data: bytes, svc: Inference) -> ImageRef:
    """Every judged image is kept, content-addressed, so later stages can fetch it."""
    return ImageRef(sha256=sha256_of(data), uri=svc.store.put(data))


def prediction(
    line_id: str,
    item_id: str,
    image: ImageRef,
    label: str,
    confidence: float,
    model: LoadedModel,
    *,
    source: str,
    cause: ImageSubmitted | None = None,
) -> PredictionMade:
    return PredictionMade(
        producer=PRODUCER,
        causation_id=cause.event_id if cause else None,
        correlation_id=cause.correlation_id if cause else None,
        line_id=line_id,
        item_id=item_id,
        image=image,
        label=label,
        confidence=min(max(confidence, 0.0), 1.0),
        model_name=model.version.name,
        model_version=model.version.version,
        source=source,
    )
