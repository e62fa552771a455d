"""The system started the way its containers start: the image's entrypoint with the Compose
command and environment, the init job first, then the five services and the dashboard, as
processes on this host against the real stack.

What a container would get from Compose's network is replaced, and nothing else: where Kafka,
Redis and MLflow answer, where the image store lies, and each service's port (in the image all
six listen on 8000, each in its own container; here they share one host). The command is the
installed `yieldloop` script, without the Makefile's PYTHONPATH."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common.settings import CommonSettings
from tests.conftest import port
from tests.deployfiles import APPS, Stage, compose_config, final_stage
from yieldloop.stack.components import http_ok
from yieldloop.stack.process import Daemon

# The init job trains the first models when no earlier test has: minutes on two cores.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]
BIN = Path(sys.executable).parent


def network(stack: CommonSettings) -> dict[str, str]:
    return {
        "YIELDLOOP_KAFKA__BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
        "YIELDLOOP_REDIS__URL": stack.redis_url,
        "YIELDLOOP_MLFLOW__TRACKING_URI": stack.mlflow_uri,
        "YIELDLOOP_STORE__ROOT": str(stack.store_root),
    }


def container_env(image: Stage, compose: dict[str, str], host: dict[str, str]) -> dict[str, str]:
    outside = {
        k: v for k, v in os.environ.items() if not k.startswith("YIELDLOOP_") and k != "PYTHONPATH"
    }
    inside = {k: v for k, v in image.env.items() if k != "PATH"} | compose | host
    return outside | inside | {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def run_to_end(argv: list[str], *, env: dict[str, str], log: Path) -> int:
    """Run a one-shot job; past its time, kill it with everything it started."""
    with log.open("wb") as out:
        job = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            return job.wait(timeout=1200)
        finally:
            if job.poll() is None:
                os.killpg(job.pid, signal.SIGKILL)
                job.wait()


def listening(name: str) -> str:
    return str(port(27000 + APPS.index(name)))  # below the ephemeral range: never taken by a client


@pytest.fixture(scope="module")
def containers(
    stack: CommonSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Daemon]]:
    image, services = final_stage(), compose_config()["services"]
    assert set(services["inference"]["environment"]) == set(network(stack))
    init, logs = services["init"], tmp_path_factory.mktemp("containers")
    code = run_to_end(
        [*init["entrypoint"], *init["command"]],
        env=container_env(image, init["environment"], network(stack)),
        log=logs / "init.log",
    )
    assert code == 0, (logs / "init.log").read_text()[-3000:]
    daemons = {name: Daemon(name, logs) for name in APPS}
    for name, daemon in daemons.items():
        ours = network(stack) | {f"YIELDLOOP_{name.upper()}__PORT": listening(name)}
        env = container_env(image, services[name]["environment"], ours)
        daemon.start([*image.entrypoint, *services[name]["command"]], env=env)
    try:
        yield daemons
    finally:
        for daemon in daemons.values():
            daemon.stop(timeout=60)


def test_every_service_answers_ready_and_passes_the_image_health_check(
    containers: dict[str, Daemon],
) -> None:
    waiting = {name: f"http://127.0.0.1:{listening(name)}/readyz" for name in APPS}
    deadline = time.monotonic() + 240
    while waiting and time.monotonic() < deadline:
        exited = [name for name in APPS if containers[name].pid() is None]
        assert not exited, {name: containers[name].log_tail() for name in exited}
        waiting = {name: url for name, url in waiting.items() if not http_ok(url)}
        time.sleep(1 if waiting else 0)
    assert not waiting, {name: containers[name].log_tail() for name in waiting}

    image_path = {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    for name in APPS:
        check = [
            part.replace(":8000/", f":{listening(name)}/") for part in final_stage().healthcheck
        ]
        assert subprocess.run(check, env=image_path, timeout=30).returncode == 0, name
