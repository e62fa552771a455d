"""Audit, replay and dashboard on a demo line the system repairs: the dashboard, in real headless
Chromium, shows the line and its iteration while the line runs; afterwards `yieldloop audit`
tells the iteration's story and verifies it, a corrupted link is named, and the replays
reproduce the record without moving any live offset."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from mlflow import MlflowClient
from playwright.sync_api import sync_playwright

from schemas import DatasetCurated, ModelDeployed
from tests.e2e.conftest import System, yieldloop
from tests.kafka_io import offsets_now
from yieldloop.dashboard.command import daemon, start_daemon
from yieldloop.demo import DemoPlan, Run, follow

pytestmark = pytest.mark.e2e
LINE = "e2e-audit"
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass(frozen=True)
class Watched:
    run: Run
    seen: dict[str, Any]


def browse(url: str, *, running: Callable[[], bool], shots: Path) -> dict[str, Any]:
    """What the board shows while the line runs, and the audit page its iteration row opens."""
    seen: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.goto(url)
        plot = page.locator(f'svg.yield-plot[data-line="{LINE}"] polyline.yield')
        plot.wait_for(timeout=120_000)
        row = page.locator("tr.iteration", has_text=f"{LINE}-").first
        row.wait_for(timeout=480_000)
        seen["running"] = running()
        seen["points"] = len((plot.get_attribute("points") or "").split())
        seen["row"] = row.inner_text()
        page.screenshot(path=shots / "dashboard.png", full_page=True)
        row.locator("a").click()
        page.wait_for_selector("#iteration", timeout=120_000)
        seen["heading"] = page.locator("#iteration").inner_text()
        seen["audit_plot"] = page.locator("#yield-plot").count()
        page.screenshot(path=shots / "audit-page.png", full_page=True)
        browser.close()
    return seen


@pytest.fixture(scope="module")
def watched(system: System) -> Iterator[Watched]:
    """The demo line runs in a thread; the browser watches the dashboard meanwhile."""
    url = start_daemon(system.settings)
    plan = DemoPlan(rate=20, warmup_s=20, after_s=10, timeout_s=420)
    shots = system.workdir / "screenshots"
    shots.mkdir(exist_ok=True)
    try:
        with ThreadPoolExecutor(1) as pool:
            line = pool.submit(
                asyncio.run,
                follow(system.settings, plan, line_id=LINE, run_dir=system.workdir, say=print),
            )
            seen = browse(url, running=lambda: not line.done(), shots=shots)
            run, _ = line.result()
        print(f"screenshots in {shots}")
        yield Watched(run, seen)
    finally:
        daemon(system.settings).stop()


def test_the_board_shows_the_line_and_its_iteration_while_the_line_runs(watched: Watched) -> None:
    seen = watched.seen
    assert seen["running"], "the iteration row appeared only after the line had stopped"
    assert seen["points"] >= 2
    assert seen["row"].startswith(f"{LINE}-")
    iteration_id = seen["row"].split()[0]
    assert iteration_id in seen["heading"]
    assert seen["audit_plot"] == 1


def test_audit_json_tells_the_whole_iteration(watched: Watched) -> None:
    done = yieldloop("audit", "--json", "--line", LINE)
    assert done.returncode == 0, done.stderr
    [story] = json.loads(done.stdout)["iterations"]
    [deployed] = [e for e in watched.run.events if isinstance(e, ModelDeployed)]

    assert story["iteration_id"] == deployed.iteration_id
    assert story["trigger"]["line_id"] == LINE and story["trigger"]["image_count"] > 0
    assert story["trigger"]["prediction"]["index"] > 0
    assert len(story["dataset"]["manifest_sha256"]) == 64
    assert story["training"]["mlflow_run_id"] and story["training"]["version"] == deployed.version
    assert len(story["training"]["epochs"]) == int(story["training"]["params"]["epochs"])
    assert story["decision"]["approved"] is True and story["decision"]["reasons"]
    [replica] = story["deployments"]
    assert replica["replica_id"] == deployed.replica_id and replica["loaded_at"]


def test_verify_holds_and_names_a_broken_link(watched: Watched, system: System) -> None:
    verified = yieldloop("audit", "--verify", "--line", LINE)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "FAIL" not in verified.stdout

    [curated] = [e for e in watched.run.events if isinstance(e, DatasetCurated)]
    manifest = Path(urlparse(curated.manifest_uri).path)
    original = manifest.read_bytes()
    manifest.write_bytes(original.replace(b'"label":"OK"', b'"label":"NG"', 1))
    try:
        broken = yieldloop("audit", "--verify", "--line", LINE)
    finally:
        manifest.write_bytes(original)
    assert broken.returncode == 1
    assert "broken link" in broken.stderr and "dataset.manifest" in broken.stderr

    [deployed] = [e for e in watched.run.events if isinstance(e, ModelDeployed)]
    client, name = MlflowClient(system.settings.mlflow_uri), deployed.model_name
    client.set_model_version_tag(name, deployed.version, "manifest_sha256", "0" * 64)
    try:
        retagged = yieldloop("audit", "--verify", "--line", LINE)
    finally:
        client.set_model_version_tag(
            name, deployed.version, "manifest_sha256", curated.manifest_sha256
        )
    assert retagged.returncode == 1
    assert "training.version" in retagged.stderr and "manifest_sha256" in retagged.stderr


def test_replays_reproduce_the_record_and_move_no_live_offset(
    watched: Watched, system: System, tmp_path: Path
) -> None:
    before = asyncio.run(offsets_now(system.settings, settle_s=3))

    monitor = yieldloop("replay", "monitor", "--out", str(tmp_path / "monitor"))
    [deployed] = [e for e in watched.run.events if isinstance(e, ModelDeployed)]
    images = yieldloop(
        "replay", "images", "--model", deployed.version, "--line", LINE,
        "--truth", str(system.workdir / "truth.csv"), "--out", str(tmp_path / "images"),
    )  # fmt: skip

    after = asyncio.run(offsets_now(system.settings, settle_s=0))
    assert after == before, "a replay moved a live end offset or a group's committed offset"
    assert monitor.returncode == 0, monitor.stdout + monitor.stderr
    replay = json.loads((tmp_path / "monitor" / "replay.json").read_text())
    line = replay["lines"][LINE]
    assert line["same"] and line["recorded"]["iterations"] == 1
    assert line["replayed"]["trigger_predictions"] == line["recorded"]["trigger_predictions"]
    assert len(line["recorded"]["trigger_predictions"]) == 1
    assert line["replayed"]["signals"] == line["recorded"]["signals"]

    assert images.returncode == 0, images.stderr
    judged = json.loads((tmp_path / "images" / "replay.json").read_text())["summary"]
    assert judged["images"] == replay["predictions"][LINE] and judged["missing_images"] == 0
    assert judged["with_truth"] > 0 and judged["replayed_accuracy"] is not None
