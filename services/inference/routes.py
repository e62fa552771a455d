"""The inference service's REST routes: judging uploads and saying which model serves."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, HTTPException, Request, UploadFile
from pydantic import BaseModel

from services.common.service import ErrorBody
from services.inference import handlers
from services.inference.bootstrap import Inference


class Prediction(BaseModel):
    label: str
    confidence: float


class BatchRow(BaseModel):
    filename: str
    prediction: Prediction


class SkippedFile(BaseModel):
    filename: str
    reason: str


class BatchPrediction(BaseModel):
    results: list[BatchRow]
    skipped: list[SkippedFile]


class UploadTooLarge(ValueError):
    """An upload over its byte limit (413)."""


async def inference_of(request: Request) -> Inference:
    svc: Inference = request.app.state.inference
    return svc


InferenceDep = Annotated[Inference, Depends(inference_of)]
router = APIRouter()
Responses = dict[int | str, dict[str, Any]]
TOO_LARGE: Responses = {
    413: {"model": ErrorBody, "description": "The upload is over its byte limit"}
}
NOT_AN_IMAGE: Responses = {415: {"model": ErrorBody, "description": "The file is not an image"}}
CORRUPT: Responses = {400: {"model": ErrorBody, "description": "The image does not decode"}}
REFUSED_ZIP: Responses = {
    400: {"model": ErrorBody, "description": "Not a zip, a damaged entry, or a path outside it"}
}


async def read_upload(upload: UploadFile, limit: int) -> bytes:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise UploadTooLarge(f"upload is over the {limit} byte limit")
    return data


@router.post("/predict", tags=["predictions"], responses={**CORRUPT, **TOO_LARGE, **NOT_AN_IMAGE})
async def predict(file: Annotated[UploadFile, File()], svc: InferenceDep) -> Prediction:
    """Judge one image: its class name and the model's confidence."""
    data = await read_upload(file, svc.config.max_upload_bytes)
    judged = await handlers.predict_upload(data, file.filename, svc)
    return Prediction(label=judged.label, confidence=judged.confidence)


@router.post("/batch_predict", tags=["predictions"], responses={**REFUSED_ZIP, **TOO_LARGE})
async def batch_predict(
    zip_file: Annotated[UploadFile, File()], svc: InferenceDep
) -> BatchPrediction:
    """Judge every image in a zip archive; files that are not images are listed as skipped."""
    data = await read_upload(zip_file, svc.config.max_zip_bytes)
    judged, skipped = await handlers.predict_zip(data, svc)
    return BatchPrediction(
        results=[
            BatchRow(
                filename=j.filename, prediction=Prediction(label=j.label, confidence=j.confidence)
            )
            for j in judged
        ],
        skipped=[SkippedFile(filename=s.filename, reason=s.reason) for s in skipped],
    )


@router.get("/model", tags=["model"])
async def model(svc: InferenceDep) -> dict[str, Any]:
    """The version this replica serves."""
    m = svc.model
    return {
        "name": m.version.name,
        "version": m.version.version,
        "alias": "champion",
        "loaded_at": m.loaded_at.isoformat(),
        "replica_id": svc.config.replica_id,
    }


@router.get("/healthz", tags=["health"], responses={503: {"description": "Not ready"}})
async def healthz(svc: InferenceDep) -> dict[str, Any]:
    """Readiness with the serving version: a model is loaded and Kafka and Redis answer."""
    ready, _ = await svc.runtime.health.readiness()
    if not (ready and svc.runtime.started and svc.slot is not None):
        raise HTTPException(503, "not ready")
    return {"status": "ok", "version": svc.model.version.version}
