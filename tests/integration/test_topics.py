"""`yieldloop topics ensure` on a broker of its own, as a user runs it against their cluster:
creates what is missing once, then only reports what differs from the catalog."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from schemas import CATALOG
from schemas.topics import ALERT_RAISED, IMAGES_SUBMITTED
from services.common.settings import REPO_ROOT, CommonSettings
from tests.conftest import port
from yieldloop.stack.components import Kafka

pytestmark = pytest.mark.integration
TOPICS = len(CATALOG) + 1  # and the dead-letter topic


@pytest.fixture(scope="module")
def broker_env() -> Iterator[dict[str, str]]:
    """A fresh single Kafka broker, and the environment that points the command at it."""
    env = {
        "YIELDLOOP_STACK__STATE_DIR": ".yieldloop/test-topics",
        "YIELDLOOP_STACK__KAFKA_PORT": port(23192),
        "YIELDLOOP_STACK__KAFKA_CONTROLLER_PORT": port(23193),
    }
    settings = CommonSettings(
        stack={
            "state_dir": env["YIELDLOOP_STACK__STATE_DIR"],
            "kafka_port": int(env["YIELDLOOP_STACK__KAFKA_PORT"]),
            "kafka_controller_port": int(env["YIELDLOOP_STACK__KAFKA_CONTROLLER_PORT"]),
        }
    )
    shutil.rmtree(settings.stack.path(), ignore_errors=True)
    kafka = Kafka("kafka", settings)
    kafka.up()
    try:
        yield env
    finally:
        kafka.daemon.stop()
        shutil.rmtree(settings.stack.path(), ignore_errors=True)


def ensure(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "yieldloop", "topics", "ensure", *args],
        env={**os.environ, **env},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_run_twice_it_creates_nothing_the_second_time(broker_env: dict[str, str]) -> None:
    first = ensure(broker_env)
    second = ensure(broker_env)

    assert first.returncode == 0, first.stderr
    assert f"topics: {TOPICS} created, 0 as the catalog wants" in first.stdout
    assert second.returncode == 0, second.stderr
    assert f"topics: 0 created, {TOPICS} as the catalog wants" in second.stdout
    assert "differs" not in second.stdout


async def test_it_reports_partitions_and_retention_that_differ(broker_env: dict[str, str]) -> None:
    assert ensure(broker_env).returncode == 0
    admin = AIOKafkaAdminClient(
        bootstrap_servers=f"127.0.0.1:{broker_env['YIELDLOOP_STACK__KAFKA_PORT']}"
    )
    await admin.start()
    try:
        await admin.create_partitions({IMAGES_SUBMITTED: NewPartitions(5)})
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, ALERT_RAISED, {"retention.ms": "3600000"})]
        )
    finally:
        await admin.close()

    lenient, strict = ensure(broker_env), ensure(broker_env, "--strict")

    assert lenient.returncode == 0 and strict.returncode == 1
    assert f"{IMAGES_SUBMITTED} differs: partitions 5, catalog wants 3" in lenient.stdout
    assert f"{ALERT_RAISED} differs: retention.ms 3600000, catalog wants -1" in lenient.stdout
    assert f"0 created, {TOPICS - 2} as the catalog wants" in lenient.stdout
