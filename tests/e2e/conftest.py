"""The whole system for end-to-end tests: real stack, first models, the five services."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.common.models import registry_from
from services.common.registry import ModelRegistry
from services.common.settings import REPO_ROOT, load_settings
from services.monitor.config import MonitorSettings
from yieldloop.bootstrap_models import bootstrap_models
from yieldloop.fleet import Fleet


@dataclass(frozen=True)
class System:
    settings: MonitorSettings
    registry: ModelRegistry
    inference_url: str
    workdir: Path
    fleet: Fleet

    def served_model(self) -> dict[str, str]:
        with urllib.request.urlopen(f"{self.inference_url}/model", timeout=5) as response:
            return dict(json.load(response))


@pytest.fixture(scope="session")
def system(stack: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    settings = load_settings(MonitorSettings)
    bootstrap_models(settings)
    workdir = tmp_path_factory.mktemp("e2e")
    with Fleet(log_dir=workdir / "logs") as fleet:
        fleet.start()
        yield System(settings, registry_from(settings), fleet.inference_url, workdir, fleet)


def yieldloop(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it (the test stack's settings are in the environment)."""
    return subprocess.run(
        [sys.executable, "-m", "yieldloop", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        timeout=timeout,
    )
