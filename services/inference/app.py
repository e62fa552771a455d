"""The inference service's entrypoints: REST routes and Kafka subscribers in one process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, File, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from prometheus_client import make_asgi_app

from schemas import DEAD_LETTER, ImageSubmitted, ModelApproved, topic_for
from services.common.images import CorruptImage, NotAnImage
from services.common.kafka import make_broker, publisher
from services.common.runtime import replica_group
from services.common.settings import load_settings
from services.inference import handlers
from services.inference.bootstrap import Inference, bootstrap
from services.inference.config import InferenceSettings
from services.inference.domain import UnsafeArchive

GROUP = "inference"


def subscribe(broker: KafkaBroker, svc: Inference) -> None:
    @broker.subscriber(
        topic_for(ImageSubmitted),
        group_id=GROUP,
        batch=True,
        max_records=svc.config.batch_max,
        auto_offset_reset="earliest",
    )
    async def on_images(events: list[ImageSubmitted]) -> None:
        await handlers.images_submitted(events, svc)

    @broker.subscriber(
        topic_for(ModelApproved),
        group_id=replica_group(GROUP, svc.config.replica_id),
        auto_offset_reset="latest",
    )
    async def on_approved(event: ModelApproved) -> None:
        await handlers.model_approved(event, svc)


async def read_upload(upload: UploadFile, limit: int) -> bytes:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"upload is over the {limit} byte limit")
    return data


def create(settings: InferenceSettings | None = None, **adapters: Any) -> FastAPI:
    """The ASGI app; `adapters` (store, registry, coordination) replace the real ones in tests."""
    settings = settings or load_settings(InferenceSettings)
    broker = make_broker(settings, client_id="inference")

    async def dead_letter(body: bytes, exc: Exception) -> None:
        await broker.publish(body, DEAD_LETTER, headers={"x-error": repr(exc)[:1000]})

    svc = bootstrap(
        settings=settings, publish=publisher(broker), dead_letter=dead_letter, **adapters
    )
    subscribe(broker, svc)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await handlers.start(svc)
        await broker.start()
        try:
            yield
        finally:
            await broker.stop()

    api = FastAPI(title="yieldloop inference", lifespan=lifespan)
    limit = svc.config.max_upload_bytes

    api.mount("/metrics", make_asgi_app(registry=svc.metrics.registry))

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
        return JSONResponse({"error": "archive refused", "detail": str(exc)}, 400)

    @api.post("/predict")
    async def predict(file: Annotated[UploadFile, File()]) -> dict[str, Any]:
        """Judge one image: its class name and the model's confidence."""
        judged = await handlers.predict_upload(await read_upload(file, limit), file.filename, svc)
        return {"label": judged.label, "confidence": judged.confidence}

    @api.post("/batch_predict")
    async def batch_predict(zip_file: Annotated[UploadFile, File()]) -> dict[str, Any]:
        """Judge every image in a zip archive."""
        data = await read_upload(zip_file, svc.config.max_zip_bytes)
        results = await handlers.predict_zip(data, svc)
        return {
            "results": [
                {
                    "filename": name,
                    "prediction": {"label": j.label, "confidence": j.confidence}
                    if isinstance(j, handlers.Judged)
                    else {"error": j},
                }
                for name, j in results
            ]
        }

    @api.get("/model")
    async def model() -> dict[str, Any]:
        """The version this replica serves."""
        m = svc.model
        return {
            "name": m.version.name,
            "version": m.version.version,
            "alias": "champion",
            "loaded_at": m.loaded_at.isoformat(),
            "replica_id": svc.config.replica_id,
        }

    @api.get("/healthz")
    async def healthz() -> dict[str, Any]:
        """Liveness and readiness: a model is loaded and the broker answers."""
        ready = svc.slot is not None and await broker.ping(timeout=2)
        if not ready:
            raise HTTPException(503, "not ready")
        return {"status": "ok", "version": svc.model.version.version}

    return api
