"""The inference service's entrypoints: REST routes and Kafka subscribers in one process."""

from __future__ import annotations

from typing import Any

import torch
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.subscriber.usecase import LogicSubscriber

from schemas import (
    ImageSubmitted,
    ModelApproved,
    ModelDeployed,
    ModelRolledBack,
    PredictionMade,
    topic_for,
)
from services.common.images import CorruptImage, NotAnImage
from services.common.kafka import (
    InOrderCommits,
    Record,
    assigned,
    batches,
    make_broker,
    publisher,
    raw_batch,
    replica_group,
    send_dead_letter,
)
from services.common.service import Lifecycle, Runtime
from services.common.settings import load_settings
from services.common.wiring import service_for
from services.inference import admin_routes, asyncapi, handlers, routes
from services.inference.bootstrap import Inference, bootstrap
from services.inference.config import InferenceSettings
from services.inference.domain import UnsafeArchive

GROUP = "inference"
PRODUCES = (PredictionMade, ModelDeployed)


def subscribe(
    broker: KafkaBroker, svc: Inference
) -> tuple[list[LogicSubscriber[Any]], InOrderCommits]:
    """Returns the model-event subscribers (the champion is read only once they are assigned)
    and the image subscriber's commits (drained before it stops)."""
    c = svc.config
    commits = InOrderCommits(lambda: images.consumer, depth=c.batches_in_flight)
    images = broker.subscriber(
        topic_for(ImageSubmitted),
        group_id=GROUP,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,  # committed by `commits`, in order, once acknowledged
        listener=commits,
        **batches(c.batch_max, wait_ms=c.batch_wait_ms, record_bytes=c.batch_record_bytes),
    )

    @images(decoder=raw_batch)
    async def on_images(message: KafkaMessage) -> None:
        records = message.raw_message
        await commits.handle(
            records,
            lambda: handlers.images_submitted(records, svc),
            lambda predictions: handlers.report(predictions, svc),
        )

    approvals = broker.subscriber(
        topic_for(ModelApproved),
        group_id=replica_group(GROUP, svc.config.replica_id),
        auto_offset_reset="latest",
    )

    @approvals
    async def on_approved(event: ModelApproved) -> None:
        await svc.runtime.handle("model_approved", lambda: handlers.model_approved(event, svc))

    rollbacks = broker.subscriber(
        topic_for(ModelRolledBack),
        group_id=replica_group(GROUP, svc.config.replica_id),
        auto_offset_reset="latest",
    )

    @rollbacks
    async def on_rolled_back(event: ModelRolledBack) -> None:
        await svc.runtime.handle(
            "model_rolled_back", lambda: handlers.model_rolled_back(event, svc)
        )

    return [approvals, rollbacks], commits


def create(settings: InferenceSettings | None = None, **given: Any) -> FastAPI:
    """The ASGI app; `given` adapters (store, registry, ledger...) replace the real ones."""
    settings = settings or load_settings(InferenceSettings)
    if settings.inference.torch_threads is not None:
        torch.set_num_threads(settings.inference.torch_threads)
    runtime = given.pop("runtime", None) or Runtime("inference", backoff=settings.retry)
    broker = make_broker(settings, client_id="inference", metrics=runtime.metrics)

    async def dead_letter(record: Record, exc: BaseException) -> None:
        await send_dead_letter(broker, record, exc)
        runtime.metrics.dead_letters.labels(record.topic).inc()

    svc = bootstrap(
        settings=settings,
        publish=publisher(broker, PRODUCES),
        dead_letter=dead_letter,
        runtime=runtime,
        **given,
    )
    model_events, commits = subscribe(broker, svc)

    async def serve_champion() -> None:
        for subscriber in model_events:
            await assigned(subscriber)
        await runtime.handle("start", lambda: handlers.start(svc))

    api = service_for(
        svc,
        broker,
        settings,
        title="yieldloop inference",
        lifecycle=Lifecycle(
            before_broker=[svc.decoders.start],
            after_broker=[serve_champion],
            before_stop=[commits.drain],
            after_stop=[svc.decoders.close],
        ),
    )
    api.state.inference = svc
    api.description = asyncapi.POINTER
    api.state.admin_token = settings.admin_token
    api.state.reviews, api.state.publish = svc.reviews, svc.publish
    api.include_router(routes.router)
    api.include_router(admin_routes.router)
    api.include_router(asyncapi.router)
    refusals(api, svc)
    return api


def refusals(api: FastAPI, svc: Inference) -> None:
    """Bad uploads get a JSON error naming what is wrong; the service keeps serving."""

    @api.exception_handler(NotAnImage)
    async def not_an_image(_: Request, exc: NotAnImage) -> JSONResponse:
        svc.metrics.rejected.labels("NotAnImage").inc()
        return JSONResponse({"error": "unsupported media type", "detail": str(exc)}, 415)

    @api.exception_handler(CorruptImage)
    async def corrupt(_: Request, exc: CorruptImage) -> JSONResponse:
        svc.metrics.rejected.labels("CorruptImage").inc()
        return JSONResponse({"error": "corrupt image", "detail": str(exc)}, 400)

    @api.exception_handler(UnsafeArchive)
    async def unsafe(_: Request, exc: UnsafeArchive) -> JSONResponse:
        svc.metrics.rejected.labels("UnsafeArchive").inc()
        return JSONResponse({"error": "archive refused", "detail": str(exc)}, 400)

    @api.exception_handler(routes.UploadTooLarge)
    async def too_large(_: Request, exc: routes.UploadTooLarge) -> JSONResponse:
        svc.metrics.rejected.labels("UploadTooLarge").inc()
        return JSONResponse({"error": "upload too large", "detail": str(exc)}, 413)
