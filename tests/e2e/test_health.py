"""Every service answers liveness and readiness, and serves the metrics an operator needs:
handled, retried and dead-lettered counts, consumer lag, and the active iteration."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e
FAMILIES = ("yieldloop_handled", "yieldloop_retries", "yieldloop_dead_letters")


def test_every_service_is_alive_ready_and_measured(system: System) -> None:
    for name, url in system.fleet.urls.items():
        live = httpx.get(f"{url}/livez", timeout=10)
        assert live.status_code == 200 and live.json()["service"] == name

        ready = httpx.get(f"{url}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        assert ready.json()["kafka"] and ready.json()["redis"]

        metrics = httpx.get(f"{url}/metrics/", timeout=10).text
        kinds = {f.name: f.type for f in text_string_to_metric_families(metrics)}
        for family in FAMILIES:
            assert kinds.get(family) == "counter", (name, family)
        assert kinds.get("yieldloop_consumer_lag") == "gauge", name


def test_the_monitor_says_which_stage_the_active_iteration_is_at(system: System) -> None:
    metrics = httpx.get(f"{system.fleet.urls['monitor']}/metrics/", timeout=10).text
    stages = [
        line for line in metrics.splitlines() if line.startswith("yieldloop_active_iteration{")
    ]
    assert {line.split('"')[1] for line in stages} == {"requested", "curated", "trained"}
