"""Rollback on the real stack, with two inference replicas: after a drift deploys a repaired
version, `yieldloop rollback` brings every replica back, the event log keeps who did it and
why, and a second rollback goes nowhere. Admin routes of the live service need the token."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from schemas import ModelDeployed, ModelRolledBack, topic_for
from services.common.history import read_events
from services.common.registry import CHAMPION, PREVIOUS
from tests.conftest import ADMIN_TOKEN, port
from tests.e2e.conftest import System
from tests.e2e.test_review import drift
from yieldloop.audit.audit import read
from yieldloop.stack.components import http_ok
from yieldloop.stack.process import Daemon

pytestmark = pytest.mark.e2e
FIRST = "1"  # the first model bootstrap registers: the demo's v1
ADMIN = [
    ("POST", "/admin/reload", {}),
    ("POST", "/admin/rollback", {"reason": "x"}),
    ("POST", "/admin/deploy", {"version": "1", "reason": "x"}),
    ("POST", f"/review/{'0' * 64}", {"label": "OK"}),
]


@pytest.fixture(scope="module")
def second_replica(system: System) -> Iterator[str]:
    """Another inference replica of its own id and port, with no admin token configured."""
    url = f"http://127.0.0.1:{port(28010)}"
    replica = Daemon("inference-2", system.workdir / "logs")
    env = {
        **system.fleet.env,
        "YIELDLOOP_INFERENCE__PORT": port(28010),
        "YIELDLOOP_INFERENCE__REPLICA_ID": "inference-2",
        "YIELDLOOP_ADMIN_TOKEN": "",
    }
    replica.start([sys.executable, "-m", "services.inference"], env=env)
    try:
        replica.wait_ready(lambda: http_ok(f"{url}/readyz"), timeout=180)
        yield url
    finally:
        replica.stop(timeout=60)


def serving(url: str) -> str:
    return str(httpx.get(f"{url}/model", timeout=5).json()["version"])


def wait_serving(urls: list[str], version: str, timeout_s: float = 90) -> None:
    started = time.monotonic()
    while {serving(u) for u in urls} != {version}:
        assert time.monotonic() - started < timeout_s, {u: serving(u) for u in urls}
        time.sleep(0.2)


def rollback(reason: str, *more: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "yieldloop", "rollback", "--reason", reason, "--actor", "e2e"]
    argv += more
    return subprocess.run(argv, capture_output=True, text=True, env=os.environ, timeout=120)


def from_the_first_model(system: System, urls: list[str]) -> None:
    """Start where the demo starts, with v1 serving. Earlier tests fine-tuned the champion on
    drift after drift, each a step away from the golden set, and the gate rightly refuses a
    candidate that drifts too far from it."""
    name = system.settings.mlflow.model_name
    champion = system.registry.by_alias(name, CHAMPION)
    if champion is not None and champion.version != FIRST:
        done = rollback("e2e: start from the first model", "--to", FIRST)
        assert done.returncode == 0, done.stderr
    wait_serving(urls, FIRST)


def deployed_by_a_drift(system: System, attempts: int = 3) -> ModelDeployed:
    """A drift whose iteration deploys a repaired version. The gate may rightly refuse a
    candidate (its golden NG recall under the floor); then a fresh line drifts again."""
    for attempt in range(attempts):
        line = f"e2e-rollback-{uuid.uuid4().hex[:6]}"
        run = drift(system, line, system.workdir / f"rollback-{attempt}")
        deployed = [e for e in run.of(ModelDeployed) if isinstance(e, ModelDeployed)]
        if deployed:
            return deployed[0]
    raise AssertionError(f"{attempts} drift iterations in a row ended without a new model")


def test_a_rollback_brings_every_replica_back_and_the_log_says_why(
    system: System, second_replica: str
) -> None:
    name, urls = system.settings.mlflow.model_name, [system.inference_url, second_replica]
    from_the_first_model(system, urls)
    deployed = deployed_by_a_drift(system)
    repaired = deployed.version
    wait_serving(urls, repaired)
    previous = system.registry.by_alias(name, PREVIOUS)
    assert previous is not None and previous.version != repaired

    reason = f"e2e: NG parts escape since v{repaired}"
    started = time.monotonic()
    done = rollback(reason)
    assert done.returncode == 0, done.stderr
    wait_serving(urls, previous.version)
    took = time.monotonic() - started
    print(f"every replica back on v{previous.version} {took:.1f} s after the command started")
    champion = system.registry.by_alias(name, CHAMPION)
    assert champion is not None and champion.version == previous.version

    events = asyncio.run(
        read_events(system.settings, [topic_for(ModelRolledBack), topic_for(ModelDeployed)])
    )
    [rolled] = [e for e in events if isinstance(e, ModelRolledBack) and e.reason == reason]
    assert (rolled.actor, rolled.from_version, rolled.version) == (
        "e2e",
        repaired,
        champion.version,
    )
    swapped = {
        e.replica_id
        for e in events
        if isinstance(e, ModelDeployed) and e.correlation_id == rolled.rollback_id
    }
    assert swapped == {"inference-1", "inference-2"}

    again = rollback("clicked twice")
    assert again.returncode == 1 and "previous" in again.stderr
    assert {serving(u) for u in urls} == {previous.version}

    audit = asyncio.run(read(system.settings))
    [logged] = [r for r in audit.rollbacks if r["rollback_id"] == rolled.rollback_id]
    assert logged["reason"] == reason and len(logged["deployments"]) == 2


def test_admin_routes_of_the_live_service_need_the_token(
    system: System, second_replica: str
) -> None:
    for method, path, body in ADMIN:
        none = httpx.request(method, system.inference_url + path, json=body, timeout=30)
        wrong = httpx.request(
            method,
            system.inference_url + path,
            json=body,
            headers={"Authorization": "Bearer not-the-token"},
            timeout=30,
        )
        off = httpx.request(
            method,
            second_replica + path,
            json=body,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=30,
        )
        assert (none.status_code, wrong.status_code, off.status_code) == (401, 401, 403), path
    reload = httpx.post(
        f"{system.inference_url}/admin/reload",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=60,
    )
    assert reload.status_code == 200 and reload.json()["version"] == serving(system.inference_url)
    assert httpx.get(f"{system.inference_url}/review", timeout=30).status_code == 200
