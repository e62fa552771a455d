"""Settings of the inference service (`inference:` in the YAML, YIELDLOOP_INFERENCE__*)."""

from __future__ import annotations

import os
import socket

from pydantic import BaseModel, Field, SecretStr

from services.common.settings import CommonSettings


def default_replica() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class InferenceConfig(BaseModel):
    replica_id: str = Field(default_factory=default_replica)
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    batch_max: int = Field(64, ge=1)
    rest_line_id: str = "rest"
    max_upload_bytes: int = Field(5_000_000, ge=1)
    max_pixels: int = Field(20_000_000, ge=1)
    max_zip_bytes: int = Field(50_000_000, ge=1)
    max_zip_entries: int = Field(1000, ge=1)
    max_zip_unpacked_bytes: int = Field(200_000_000, ge=1)
    admin_token: SecretStr | None = None


class InferenceSettings(CommonSettings):
    inference: InferenceConfig = InferenceConfig()
