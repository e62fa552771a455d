"""A user's own line end to end: washers in class folders become the line's first champion and
referees (`yieldloop import`), then a folder of the line's unlabelled images, washed out part of
the way, is fed (`yieldloop produce --folder`) and goes through one iteration to a decision.
The demo's models serve again afterwards."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from schemas import (
    DatasetCurated,
    Event,
    IterationAborted,
    ModelApproved,
    ModelCandidate,
    ModelRejected,
    RetrainRequested,
)
from services.common.registry import CHAMPION, ModelVersion
from tests.e2e.conftest import System, yieldloop
from tests.user_line import write_labelled, write_unlabelled
from yieldloop.watch import Watcher

pytestmark = pytest.mark.e2e
LINE = "e2e-own-line"
DECISIONS = (ModelApproved, ModelRejected, IterationAborted)


@contextmanager
def demo_models_restored(system: System) -> Iterator[dict[str, ModelVersion]]:
    """The champions as they were; put back (and served again) whatever happens."""
    names = (system.settings.mlflow.model_name, *system.settings.mlflow.referee_names)
    before = {name: system.registry.by_alias(name, CHAMPION) for name in names}
    try:
        yield {name: mv for name, mv in before.items() if mv is not None}
    finally:
        for name, mv in before.items():
            if mv is not None:
                system.registry.set_alias(name, CHAMPION, mv.version)
        system.fleet.relaunch("inference")


async def feed_and_follow(system: System, folder: Path) -> list[Event]:
    seen: list[Event] = []
    async with Watcher(system.settings, line_id=LINE) as watcher:
        producer = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "yieldloop", "produce", "--folder", str(folder)),
            *("--line", LINE, "--rate", "40", "--drift", "washout", "--drift-after", "200"),
            stdout=asyncio.subprocess.DEVNULL,
            env=os.environ.copy(),
        )
        async with asyncio.timeout(900):
            async for event in watcher.events():
                if event is not None and getattr(event, "line_id", None) == LINE:
                    seen.append(event)
                if any(isinstance(e, DECISIONS) for e in seen):
                    break
        assert await producer.wait() == 0
    return seen


def test_class_folders_become_a_line_whose_drift_goes_through_one_iteration(
    system: System, tmp_path: Path
) -> None:
    labelled = write_labelled(tmp_path / "labelled", 640)
    line = write_unlabelled(tmp_path / "line", 760)

    with demo_models_restored(system) as demo:
        imported = yieldloop("import", str(labelled), "--image-size", "48", "--force", timeout=1200)
        assert imported.returncode == 0, imported.stderr
        assert "640 images of NG, OK at 48 px" in imported.stdout
        for name, old in demo.items():
            new = system.registry.by_alias(name, CHAMPION)
            assert new is not None and new.version != old.version
            assert new.classes == ("NG", "OK") and new.tags["image_size"] == "48"
            assert new.tags["source"] == f"import:{labelled}"
        system.fleet.relaunch("inference")
        champion = system.registry.by_alias(system.settings.mlflow.model_name, CHAMPION)
        assert champion is not None and system.served_model()["version"] == champion.version

        seen = asyncio.run(feed_and_follow(system, line))

    [request] = [e for e in seen if isinstance(e, RetrainRequested)]
    assert request.signal is not None and request.champion_version == champion.version
    story = [type(e) for e in seen if getattr(e, "iteration_id", None) == request.iteration_id]
    assert DatasetCurated in story and ModelCandidate in story
    assert ModelApproved in story or ModelRejected in story
