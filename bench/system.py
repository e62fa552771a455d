"""The bench's own stack (ports and state folder of its own) with the first models registered,
and the services it measures started one at a time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from services.common.settings import CommonSettings, load_settings

# Ports below Linux's ephemeral range, where a client connection may already hold one.
BENCH_ENV = {
    "YIELDLOOP_STACK__STATE_DIR": ".yieldloop/bench",
    "YIELDLOOP_STACK__KAFKA_PORT": "14092",
    "YIELDLOOP_STACK__KAFKA_CONTROLLER_PORT": "14093",
    "YIELDLOOP_STACK__REDIS_PORT": "14379",
    "YIELDLOOP_STACK__MLFLOW_PORT": "14000",
    "YIELDLOOP_INFERENCE__PORT": "14800",
    "YIELDLOOP_MONITOR__PORT": "14801",
    "YIELDLOOP_CURATOR__PORT": "14802",
    "YIELDLOOP_TRAINER__PORT": "14803",
    "YIELDLOOP_GATEKEEPER__PORT": "14804",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}


def bench_settings() -> CommonSettings:
    for key, value in BENCH_ENV.items():
        os.environ.setdefault(key, value)
    return load_settings(CommonSettings)


@contextmanager
def running_stack(say: object = print) -> Iterator[CommonSettings]:
    """Kafka, Redis and MLflow up, the first champion and referees registered."""
    from yieldloop import stack
    from yieldloop.bootstrap_models import bootstrap_models

    settings = bench_settings()
    stack.up(settings, say=say)
    try:
        bootstrap_models(settings, say=lambda _: None)
        yield settings
    finally:
        stack.down(settings, say=say)


def log_dir() -> Path:
    from services.common.settings import REPO_ROOT

    return REPO_ROOT / "runs" / "bench-logs"


def broker_pid(settings: CommonSettings) -> int:
    """The Kafka broker's process, as the stack started it."""
    from yieldloop.stack.components import component_named

    pid = component_named(settings, "kafka").daemon.pid()
    if pid is None:
        raise RuntimeError("the bench's Kafka broker is not running")
    return pid
