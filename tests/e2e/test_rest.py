"""The REST API of the running inference service: bad uploads are refused with JSON errors and
the service keeps serving."""

from __future__ import annotations

import io
import zipfile

import httpx
import pytest

from services.common.images import encode_png
from services.common.settings import load_settings
from services.inference.config import InferenceSettings
from tests.e2e.conftest import System
from yieldloop.demo_line import DemoLine

pytestmark = pytest.mark.e2e


def part_png(n: int = 1) -> list[bytes]:
    return [encode_png(p.image) for p in DemoLine(seed=3).parts(n, drift=False)]


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_bad_uploads_are_refused_and_the_service_keeps_serving(system: System) -> None:
    with httpx.Client(base_url=system.inference_url, timeout=30) as http:
        text = http.post("/predict", files={"file": ("notes.txt", b"not an image", "text/plain")})
        assert text.status_code == 415 and "error" in text.json()

        png = part_png()[0]
        truncated = png[: len(png) // 2]  # header intact, pixel data cut off
        corrupt = http.post("/predict", files={"file": ("part.png", truncated, "image/png")})
        assert corrupt.status_code == 400 and "error" in corrupt.json()

        good = http.post("/predict", files={"file": ("part.png", part_png()[0], "image/png")})
        assert good.status_code == 200
        assert good.json()["label"] in {"OK", "NG"} and 0 <= good.json()["confidence"] <= 1

        metrics = http.get("/metrics/").text
        assert 'yieldloop_rejected_images_total{reason="NotAnImage"}' in metrics
        judged = [
            line
            for line in metrics.splitlines()
            if line.startswith("yieldloop_predictions_total{") and 'source="rest"' in line
        ]
        assert judged and float(judged[0].rsplit(" ", 1)[1]) >= 1


def test_a_zip_is_judged_file_by_file_and_traversal_is_refused(system: System) -> None:
    a, b = part_png(2)
    with httpx.Client(base_url=system.inference_url, timeout=30) as http:
        batch = http.post(
            "/batch_predict",
            files={
                "zip_file": (
                    "parts.zip",
                    zipped({"a.png": a, "b.png": b, "readme.txt": b"hello"}),
                    "application/zip",
                )
            },
        )
        assert batch.status_code == 200
        results = {r["filename"]: r["prediction"] for r in batch.json()["results"]}
        assert set(results) == {"a.png", "b.png"}  # every row has a label, as seed clients read
        assert all(p["label"] in {"OK", "NG"} for p in results.values())
        [skipped] = batch.json()["skipped"]
        assert skipped["filename"] == "readme.txt" and skipped["reason"]

        evil = http.post(
            "/batch_predict",
            files={
                "zip_file": ("evil.zip", zipped({"../../etc/passwd.png": a}), "application/zip")
            },
        )
        assert evil.status_code == 400 and "outside" in evil.json()["detail"]

        assert http.get("/healthz").status_code == 200


def crc_broken(files: dict[str, bytes]) -> bytes:
    """A zip whose first entry's stored CRC-32 no longer matches its bytes."""
    data = bytearray(zipped(files))
    data[14] ^= 0xFF  # the local header's CRC
    central = data.find(b"PK\x01\x02")
    data[central + 16] ^= 0xFF  # and the central directory's
    return bytes(data)


def test_a_damaged_zip_or_an_oversized_upload_is_refused_with_a_named_reason(
    system: System,
) -> None:
    a, b = part_png(2)
    with httpx.Client(base_url=system.inference_url, timeout=30) as http:
        damaged = http.post(
            "/batch_predict",
            files={
                "zip_file": ("parts.zip", crc_broken({"a.png": a, "b.png": b}), "application/zip")
            },
        )
        assert damaged.status_code == 400 and "a.png" in damaged.json()["detail"]

        limit = load_settings(InferenceSettings).inference.max_upload_bytes
        huge = http.post("/predict", files={"file": ("big.png", b"0" * (limit + 1), "image/png")})
        assert huge.status_code == 413 and huge.json()["error"] == "upload too large"

        assert (
            http.post("/predict", files={"file": ("part.png", a, "image/png")}).status_code == 200
        )
