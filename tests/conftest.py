"""Shared fixtures. Integration and end-to-end tests run against a real local stack of their own
(separate ports and state folder, so a running demo is left alone), started once per session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from services.common.settings import CommonSettings, load_settings

# Two checkouts can test side by side: YIELDLOOP_TEST_PORT_OFFSET moves every port. Every test
# port lies below Linux's ephemeral range (32768 and up), where a client's connection may
# already hold it.
OFFSET = int(os.environ.get("YIELDLOOP_TEST_PORT_OFFSET", "0"))


ADMIN_TOKEN = "e2e-admin-token"


def port(number: int) -> str:
    return str(number + OFFSET)


TEST_STACK_ENV = {
    "YIELDLOOP_STACK__STATE_DIR": ".yieldloop/test",
    "YIELDLOOP_STACK__KAFKA_PORT": port(29092),
    "YIELDLOOP_STACK__KAFKA_CONTROLLER_PORT": port(29093),
    "YIELDLOOP_STACK__REDIS_PORT": port(26379),
    "YIELDLOOP_STACK__MLFLOW_PORT": port(25000),
    "YIELDLOOP_INFERENCE__PORT": port(28000),
    "YIELDLOOP_MONITOR__PORT": port(28001),
    "YIELDLOOP_CURATOR__PORT": port(28002),
    "YIELDLOOP_TRAINER__PORT": port(28003),
    "YIELDLOOP_GATEKEEPER__PORT": port(28004),
    "YIELDLOOP_DASHBOARD__PORT": port(28005),
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "YIELDLOOP_FAULTS__ENABLED": "true",  # the chaos scenarios of the suite arm crash points
    "YIELDLOOP_ADMIN_TOKEN": ADMIN_TOKEN,
}


@pytest.fixture(scope="session")
def stack() -> Iterator[CommonSettings]:
    """A real Kafka broker, Redis server and MLflow server, fresh for this test session."""
    from yieldloop import stack as local_stack

    with pytest.MonkeyPatch.context() as mp:
        for key, value in TEST_STACK_ENV.items():
            mp.setenv(key, value)
        settings = load_settings(CommonSettings)
        local_stack.down(settings, say=None)
        shutil.rmtree(settings.stack.path(), ignore_errors=True)
        local_stack.up(settings, say=None)
        try:
            yield settings
        finally:
            local_stack.down(settings, say=None)
