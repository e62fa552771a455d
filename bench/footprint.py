"""Resident memory of the MLflow server as the local stack starts it, beside the same server
with MLflow's job runner on (its default): both started here, side by side."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from bench.procs import rss_mb, tree
from yieldloop.stack.components import http_ok


def mlflow_rss_mb(*, jobs: bool, port: int) -> float:
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "true" if jobs else "false"}
    with tempfile.TemporaryDirectory() as work:
        argv = [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", f"sqlite:///{work}/mlflow.db",
            "--artifacts-destination", f"{work}/artifacts",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        ]  # fmt: skip
        server = subprocess.Popen(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 120
            while not http_ok(f"http://127.0.0.1:{port}/health") and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(5)  # let the job runner and its consumers settle
            return rss_mb(tree(server.pid))
        finally:
            server.terminate()
            server.wait(timeout=60)
