"""What the inference service does for each image, upload and model decision."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import NamedTuple

import numpy as np

from schemas import (
    ImageRef,
    ImageSubmitted,
    ModelApproved,
    ModelDeployed,
    ModelRolledBack,
    PredictionMade,
    codec,
    stable_id,
)
from services.common import faults, models
from services.common.image_stats import batch_stats
from services.common.images import ImageRejected, declared_size, decode_image
from services.common.kafka import Record
from services.common.models import LoadedModel
from services.common.registry import CHAMPION, WITHDRAWN, ModelVersion
from services.common.retry import POISON
from services.common.store import image_bytes, sha256_of
from services.common.vision import IMAGE_SIZE
from services.inference.bootstrap import Inference
from services.inference.domain import ModelSlot, newer, zip_members

PRODUCER = "inference"
SMALL_BYTES = 64 * 1024  # an upload judged on the event loop: at most this many bytes ...
SMALL_PIXELS = 256 * 256  # ... and pixels (the line's images are 8x8 to 64x64)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Judged:
    label: str
    confidence: float
    filename: str


@dataclass(frozen=True)
class Skipped:
    filename: str
    reason: str


Upload = tuple[str, np.ndarray, bytes]  # name, decoded pixels, the bytes as sent


@dataclass(frozen=True)
class Arrived:
    """One image from the line, decoded, with its original record for a dead letter."""

    record: Record
    event: ImageSubmitted
    data: bytes
    pixels: np.ndarray


async def start(svc: Inference) -> None:
    """Serve the champion. Called once model approvals are subscribed, so an approval published
    meanwhile is handled by the subscriber and never lost; only a newer version replaces it."""
    mv = await asyncio.to_thread(models.champion, svc.registry, svc.model_name)
    iteration, line = mv.tags.get("iteration_id"), mv.tags.get("line_id")
    await serve_version(svc, mv, iteration_id=iteration or None, line_id=line or None, cause=None)


async def images_submitted(records: Sequence[Record], svc: Inference) -> list[PredictionMade]:
    """Judge a batch from the line: its predictions, not yet sent (`report` sends them, in the
    order of the batches). Each record stands alone: a poison one is dead-lettered by itself
    and the rest are judged; a transient fault retries the judging, not the dead letters."""
    arrived, poison = await svc.runtime.handle("unpack", lambda: unpack(records, svc))
    for record, exc in poison:
        svc.metrics.rejected.labels(type(exc).__name__).inc()
        await svc.runtime.handle("dead_letter", partial(svc.dead_letter, record, exc))
    if not arrived:
        return []
    return await svc.runtime.handle("images_submitted", lambda: judged(arrived, svc))


async def unpack(
    records: Sequence[Record], svc: Inference
) -> tuple[list[Arrived], list[tuple[Record, Exception]]]:
    """Each record parsed and its image fetched in a thread, then decoded by the decoders; one
    that fails either is poison by itself."""
    parsed, poison = await asyncio.to_thread(parse, records, svc)
    c = svc.config
    decoded = await svc.decoders.decode(
        [data for _, _, data in parsed],
        size=serving_size(svc),
        max_bytes=c.max_upload_bytes,
        max_pixels=c.max_pixels,
    )
    arrived: list[Arrived] = []
    for (record, event, data), pixels in zip(parsed, decoded, strict=True):
        if isinstance(pixels, ImageRejected):
            poison.append((record, pixels))
        else:
            arrived.append(Arrived(record, event, data, pixels))
    return arrived, poison


def parse(
    records: Sequence[Record], svc: Inference
) -> tuple[list[tuple[Record, ImageSubmitted, bytes]], list[tuple[Record, Exception]]]:
    parsed: list[tuple[Record, ImageSubmitted, bytes]] = []
    poison: list[tuple[Record, Exception]] = []
    for record in records:
        try:
            event = codec.decode(record.value, ImageSubmitted)
            parsed.append((record, event, image_bytes(svc.store, event.image)))
        except POISON as exc:
            poison.append((record, exc))
    return parsed, poison


async def judged(arrived: list[Arrived], svc: Inference) -> list[PredictionMade]:
    """Store and judge side by side off the loop."""
    arrived = await asyncio.to_thread(at_serving_size, arrived, svc)
    pixels = np.stack([a.pixels for a in arrived])
    (model, verdicts), kept = await asyncio.gather(
        judge(pixels, "stream", svc),
        asyncio.to_thread(kept_with_stats, [a.data for a in arrived], pixels, svc),
    )
    return [
        prediction(
            a.event.line_id,
            a.event.item_id,
            ref,
            label,
            conf,
            model,
            cause=a.event,
            stats=stats,
        )
        for a, (ref, stats), (label, conf) in zip(arrived, kept, verdicts, strict=True)
    ]


async def report(predictions: list[PredictionMade], svc: Inference) -> Awaitable[None]:
    """Hand a batch's predictions to the producer at once; what is returned is done once all of
    them are acknowledged (only then may the batch be committed)."""
    return confirmed(predictions, await svc.publish.sent(predictions), svc)


async def confirmed(
    predictions: list[PredictionMade], acks: Awaitable[None], svc: Inference
) -> None:
    """A batch's predictions acknowledged; one the producer gave up on sends the batch's
    predictions again (each keeps its id, so readers recognise a repeat) until all are."""
    try:
        await acks
    except Exception as exc:
        log.warning("predictions of a batch not acknowledged (%r): sending them again", exc)
        await svc.runtime.handle("images_submitted", lambda: svc.publish.all(predictions))
    faults.point("inference.images_after_publish")


async def predict_upload(data: bytes, filename: str | None, svc: Inference) -> Judged:
    """Judge one uploaded image; it is stored and reported like any image from the line. A
    small one is judged on the event loop: its decode, forward and store take about 0.7 ms,
    less than handing them to a thread and back. A larger one is judged in a thread, so the
    loop never waits on a big decode or hash."""
    if is_small(data):
        one = judge_upload(data, svc)
    else:
        one = await asyncio.to_thread(judge_upload, data, svc)
    [judged] = await reported_uploads([filename or uuid.uuid4().hex], [one], svc)
    return judged


class UploadJudged(NamedTuple):
    model: LoadedModel
    label: str
    confidence: float
    ref: ImageRef
    stats: dict[str, float]


def judge_upload(data: bytes, svc: Inference) -> UploadJudged:
    """One upload decoded at the serving model's size, judged by it (read once, so a swap
    meanwhile changes neither) and stored."""
    model = svc.model
    pixels = decode(data, svc, size=model.image_size)[None]
    [(label, confidence)] = classified(model, pixels, "rest", svc)
    [(ref, stats)] = kept_with_stats([data], pixels, svc)
    return UploadJudged(model, label, confidence, ref, stats)


def is_small(data: bytes) -> bool:
    """Few bytes and, by its header, few pixels: an image that is cheap to judge."""
    if len(data) > SMALL_BYTES:
        return False
    try:
        width, height = declared_size(data)
    except ImageRejected:
        return True  # refused by the decode at once, wherever it runs
    return width * height <= SMALL_PIXELS


async def predict_zip(data: bytes, svc: Inference) -> tuple[list[Judged], list[Skipped]]:
    """Judge every image of a zip, a chunk at a time in one forward each; a file that is not an
    image is skipped with its reason."""
    members = zip_members(data, svc.zip_limits)
    images, skipped = await asyncio.to_thread(decode_members, members, svc)
    judged: list[Judged] = []
    for start in range(0, len(images), svc.config.batch_max):
        judged += await judge_uploads(images[start : start + svc.config.batch_max], svc)
    return judged, skipped


def decode_members(
    members: list[tuple[str, bytes]], svc: Inference
) -> tuple[list[Upload], list[Skipped]]:
    images: list[Upload] = []
    skipped: list[Skipped] = []
    for name, member in members:
        try:
            images.append((name, decode(member, svc), member))
        except ImageRejected as exc:
            skipped.append(Skipped(name, str(exc)))
    return images, skipped


async def judge_uploads(uploads: list[Upload], svc: Inference) -> list[Judged]:
    """Uploads judged in one forward while they are stored, and reported like images from the
    line."""
    pixels = np.stack([px for _, px, _ in uploads])
    (model, verdicts), kept = await asyncio.gather(
        judge(pixels, "rest", svc),
        asyncio.to_thread(kept_with_stats, [data for _, _, data in uploads], pixels, svc),
    )
    judged = [
        UploadJudged(model, label, confidence, ref, stats)
        for (label, confidence), (ref, stats) in zip(verdicts, kept, strict=True)
    ]
    return await reported_uploads([name for name, _, _ in uploads], judged, svc)


async def reported_uploads(
    names: list[str], judged: list[UploadJudged], svc: Inference
) -> list[Judged]:
    """Uploads' predictions on the REST line, acknowledged before any label is answered."""
    line = svc.config.rest_line_id
    await svc.publish.all(
        [
            prediction(line, name, j.ref, j.label, j.confidence, j.model, cause=None, stats=j.stats)
            for name, j in zip(names, judged, strict=True)
        ]
    )
    return [Judged(j.label, j.confidence, name) for name, j in zip(names, judged, strict=True)]


async def model_approved(event: ModelApproved, svc: Inference) -> str:
    """Swap to the approved version if it is newer than the one serving and no rollback
    withdrew it; report it once."""
    mv = await asyncio.to_thread(svc.registry.get, event.model_name, event.version)
    if mv.tags.get(WITHDRAWN):
        log.info("v%s was withdrawn (%s): not swapping", mv.version, mv.tags[WITHDRAWN])
        return "withdrawn"
    return await serve_version(
        svc, mv, iteration_id=event.iteration_id, line_id=event.line_id, cause=event
    )


async def model_rolled_back(event: ModelRolledBack, svc: Inference) -> str:
    """An operator's rollback is the one move to an older version a replica makes, as long as
    the champion is still what it set (a replica that was down may read it after a newer
    approval)."""
    champion = await asyncio.to_thread(svc.registry.by_alias, event.model_name, CHAMPION)
    if champion is None or champion.version != event.version:
        log.info("%s was superseded: not swapping back", event.rollback_id)
        return "superseded"
    return await serve_version(svc, champion, iteration_id=None, line_id=None, cause=event)


async def reload(svc: Inference) -> str:
    """Serve whatever the registry's champion is now (an operator's repair of one replica)."""
    mv = await asyncio.to_thread(models.champion, svc.registry, svc.model_name)
    return await serve_version(svc, mv, iteration_id=None, line_id=None, cause=None, force=True)


async def serve_version(
    svc: Inference,
    mv: ModelVersion,
    *,
    iteration_id: str | None,
    line_id: str | None,
    cause: ModelApproved | ModelRolledBack | None,
    force: bool = False,
) -> str:
    backwards = force or isinstance(cause, ModelRolledBack)
    async with svc.swapping:
        serving = svc.slot.current.version.version if svc.slot is not None else None
        if newer(mv.version, than=serving) or (backwards and mv.version != serving):
            await swap(svc, await asyncio.to_thread(models.load, svc.registry, mv))
        elif mv.version != serving:
            log.info("v%s is older than v%s, which serves: not swapping", mv.version, serving)
            return "stale"
        return await report_deployed(svc, iteration_id=iteration_id, line_id=line_id, cause=cause)


async def swap(svc: Inference, loaded: LoadedModel) -> None:
    """Loaded and warmed off the request path; one reference assignment swaps it in."""
    if svc.slot is None:
        svc.slot = ModelSlot(loaded)
    else:
        svc.slot.swap(loaded)
        svc.metrics.swaps.inc()
    svc.metrics.serving_version.set(int(loaded.version.version))
    log.info("serving %s v%s", loaded.version.name, loaded.version.version)


async def report_deployed(
    svc: Inference,
    *,
    iteration_id: str | None,
    line_id: str | None,
    cause: ModelApproved | ModelRolledBack | None,
) -> str:
    """One ModelDeployed per (replica, version), and per rollback that brought a version back,
    whatever redelivery or restart happens."""
    loaded, replica = svc.model, svc.config.replica_id
    key = f"deployed:{replica}:{loaded.version.name}:{loaded.version.version}"
    rollback = cause.rollback_id if isinstance(cause, ModelRolledBack) else None
    if rollback is not None:
        key += f":{rollback}"
    if await svc.coordination.is_done(key):
        return "duplicate"
    deployed = ModelDeployed(
        event_id=stable_id(key),
        producer=PRODUCER,
        correlation_id=iteration_id or rollback,
        causation_id=cause.event_id if cause else None,
        iteration_id=iteration_id,
        line_id=line_id,
        model_name=loaded.version.name,
        version=loaded.version.version,
        replica_id=replica,
        loaded_at=loaded.loaded_at,
        warmup_ms=loaded.warmup_ms,
    )
    if iteration_id is not None:
        await svc.ledger.record([deployed], sent=False)
    approved = cause is not None  # the step boundaries of a swap, not of a start-up
    if approved:
        faults.point("inference.after_effect")
    await svc.publish(deployed)
    if approved:
        faults.point("inference.after_publish")
    await svc.coordination.mark_done(key)
    return "done"


async def judge(
    images: np.ndarray, source: str, svc: Inference
) -> tuple[LoadedModel, list[tuple[str, float]]]:
    """The serving model's verdicts, off the event loop."""
    model = svc.model  # read once: a swap meanwhile does not split the batch between models
    return model, await asyncio.to_thread(classified, model, images, source, svc)


def classified(
    model: LoadedModel, images: np.ndarray, source: str, svc: Inference
) -> list[tuple[str, float]]:
    """The model's verdicts, timed and counted."""
    with svc.metrics.judge_seconds.labels(source).time():
        verdicts = model.classify(images)
    for label, count in Counter(label for label, _ in verdicts).items():
        svc.metrics.predictions.labels(source, label).inc(count)
    return verdicts


def decode(data: bytes, svc: Inference, *, size: int | None = None) -> np.ndarray:
    """Gray pixels at `size`, by default the side the serving model judges (32 px before one is
    loaded)."""
    return decode_image(
        data,
        size=size or serving_size(svc),
        max_bytes=svc.config.max_upload_bytes,
        max_pixels=svc.config.max_pixels,
    )


def serving_size(svc: Inference) -> int:
    return svc.slot.current.image_size if svc.slot is not None else IMAGE_SIZE


def at_serving_size(arrived: list[Arrived], svc: Inference) -> list[Arrived]:
    """Images decoded before the model was loaded are decoded again at its size."""
    size = serving_size(svc)
    return [
        a if a.pixels.shape == (size, size) else replace(a, pixels=decode(a.data, svc))
        for a in arrived
    ]


def rounded(stats: dict[str, float]) -> dict[str, float]:
    """Five decimals are finer than any shift the monitor looks for, and keep events small."""
    return {name: round(value, 5) for name, value in stats.items()}


def kept_with_stats(
    images: list[bytes], pixels: np.ndarray, svc: Inference
) -> list[tuple[ImageRef, dict[str, float]]]:
    """Each image stored, with the statistics of the pixels the model judged."""
    stats = batch_stats(pixels)
    return [(stored(data, svc), rounded(s)) for data, s in zip(images, stats, strict=True)]


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
    cause: ImageSubmitted | None,
    stats: dict[str, float],
) -> PredictionMade:
    """A prediction for a line's image keeps one id however often the image is judged again
    (a redelivered batch), so readers recognise the repeat."""
    return PredictionMade(
        event_id=stable_id("prediction", cause.event_id) if cause else uuid.uuid4(),
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
        source="stream" if cause else "rest",
        input_stats=stats,
    )
