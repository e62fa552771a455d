"""The inference service's REST routes: judging uploads and saying which model serves."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, HTTPException, Request, UploadFile

from services.inference import handlers
from services.inference.bootstrap import Inference


def inference_of(request: Request) -> Inference:
    svc: Inference = request.app.state.inference
    return svc


InferenceDep = Annotated[Inference, Depends(inference_of)]
router = APIRouter()


async def read_upload(upload: UploadFile, limit: int) -> bytes:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"upload is over the {limit} byte limit")
    return data


@router.post("/predict", tags=["predictions"])
async def predict(file: Annotated[UploadFile, File()], svc: InferenceDep) -> dict[str, Any]:
    """Judge one image: its class name and the model's confidence."""
    data = await read_upload(file, svc.config.max_upload_bytes)
    judged = await handlers.predict_upload(data, file.filename, svc)
    return {"label": judged.label, "confidence": judged.confidence}


@router.post("/batch_predict", tags=["predictions"])
async def batch_predict(
    zip_file: Annotated[UploadFile, File()], svc: InferenceDep
) -> dict[str, Any]:
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
