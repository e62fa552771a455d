"""Settings of the inference service (`inference:` in the YAML, YIELDLOOP_INFERENCE__*)."""

from __future__ import annotations

import socket

from pydantic import Field

from services.common.settings import CommonSettings, Listens


class InferenceConfig(Listens):
    # Stable across restarts: a replica reports each version it serves once. The host name is
    # the pod name on Kubernetes; several replicas on one host set it in the environment.
    replica_id: str = Field(default_factory=socket.gethostname, min_length=1)
    batch_max: int = Field(256, ge=1)
    batch_wait_ms: int = Field(10, ge=0)
    batch_record_bytes: int = Field(512, ge=1)  # a typical ImageSubmitted, to size fetches
    # Batches judged, reported or awaiting their acknowledgements at once (in order all the same).
    batches_in_flight: int = Field(3, ge=1)
    # Threads of one forward; none leaves torch's default (one per core). Batches are judged
    # side by side, so one thread each keeps the cores busy without two pools fighting for them.
    torch_threads: int | None = Field(1, ge=1)
    # Processes beside the service that decode the line's images: in the service's own threads
    # decoding holds the interpreter lock that fetching, judging, storing and publishing need.
    # 0 decodes in a thread of the service (REST answers faster after Kafka load; see README).
    decode_processes: int = Field(1, ge=0)
    rest_line_id: str = "rest"
    max_upload_bytes: int = Field(5_000_000, ge=1)
    max_pixels: int = Field(20_000_000, ge=1)
    max_zip_bytes: int = Field(50_000_000, ge=1)
    max_zip_entries: int = Field(1000, ge=1)
    max_zip_unpacked_bytes: int = Field(200_000_000, ge=1)


class InferenceSettings(CommonSettings):
    inference: InferenceConfig = InferenceConfig()
