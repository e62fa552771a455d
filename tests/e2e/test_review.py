"""People in the loop on the real stack: a drifted iteration asks about the images its referees
dropped, a person answers some (REST and terminal), the monitor scores the served labels
against the answers, and the next iteration's dataset carries the answers over the referees'."""

from __future__ import annotations

import asyncio
import csv
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from schemas import DatasetCurated, LabelProvided, RetrainRequested, ReviewRequested, YieldReported
from schemas.datasets import DatasetManifest
from services.common.history import read_events
from services.common.review import REVIEW_TOPICS
from services.common.store import LocalImageStore, get_model
from tests.conftest import ADMIN_TOKEN
from tests.e2e.conftest import System
from yieldloop.chaos.play import reset_champion
from yieldloop.demo import DemoPlan, Run, follow
from yieldloop.produce import produce
from yieldloop.sources import demo_items
from yieldloop.watch import Watcher

pytestmark = pytest.mark.e2e
PLAN = DemoPlan(rate=60, warmup_s=6, after_s=3, timeout_s=300)


def drift(system: System, line: str, run_dir: Path) -> Run:
    """The first model serves again, then the line drifts until its iteration has ended."""
    reset_champion(system.settings, system.fleet)
    run_dir.mkdir(parents=True, exist_ok=True)
    run, _ = asyncio.run(follow(system.settings, PLAN, line_id=line, run_dir=run_dir, say=print))
    return run


def truth(run_dir: Path) -> dict[str, str]:
    with (run_dir / "truth.csv").open() as rows:
        return {row["sha256"]: row["label"] for row in csv.DictReader(rows)}


async def labels_and_a_report(system: System, line: str, items: set[str]) -> YieldReported:
    """The line goes on: a YieldReported comes that has scored the labels given."""
    async with Watcher(system.settings, line_id=line) as watcher:
        stop = asyncio.Event()
        feeding = asyncio.create_task(
            produce(
                system.settings,
                source=demo_items(seed=7, drift_after=0),
                line_id=line,
                rate=30,
                count=None,
                truth=None,
                stop=stop,
            )
        )
        try:
            async with asyncio.timeout(120):
                async for event in watcher.events():
                    if isinstance(event, YieldReported) and event.labelled >= len(items):
                        return event
        finally:
            stop.set()
            await feeding
    raise AssertionError("unreachable")


def test_people_label_what_the_referees_dropped_and_it_joins_the_next_dataset(
    system: System,
) -> None:
    tag = uuid.uuid4().hex[:6]
    first_dir = system.workdir / f"review-a-{tag}"
    line = f"e2e-review-a-{tag}"
    run = drift(system, line, first_dir)

    [request] = [e for e in run.events if isinstance(e, RetrainRequested)]
    asked = [e for e in run.of(ReviewRequested) if isinstance(e, ReviewRequested)]
    assert asked, "the drifted iteration asked no one about the images it dropped"
    [curated] = [e for e in run.events if isinstance(e, DatasetCurated)]
    store = LocalImageStore(system.settings.store_root)
    kept = {e.sha256 for e in get_model(store, curated.manifest_uri, DatasetManifest).entries}
    assert {a.item for a in asked} <= {ref.sha256 for ref in request.images}
    assert not {a.item for a in asked} & kept  # dropped: not in the curated dataset
    assert all(a.reason in ("disagreement", "low_confidence") and len(a.votes) == 2 for a in asked)
    print(f"{len(asked)} review requests; {curated.disagreements} disagreements")

    true_label = truth(first_dir)
    answers = {a.item: true_label[a.item] for a in asked[:3]}
    with httpx.Client(base_url=system.inference_url, timeout=30) as http:
        queue = http.get("/review", params={"limit": 1000}).json()
        assert {a.item for a in asked} <= {i["item"] for i in queue["items"]}
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}", "X-Actor": "e2e-inspector"}
        for item in list(answers)[:2]:
            posted = http.post(f"/review/{item}", json={"label": answers[item]}, headers=auth)
            assert posted.status_code == 200, posted.text
    last = list(answers)[2]
    subprocess.run(
        [sys.executable, "-m", "yieldloop", "review", "label", last[:16], answers[last],
         "--reviewer", "e2e-terminal"],
        check=True,
    )  # fmt: skip

    events = asyncio.run(read_events(system.settings, REVIEW_TOPICS))
    given = {e.item: e for e in events if isinstance(e, LabelProvided) and e.item in answers}
    assert {i: e.label for i, e in given.items()} == answers
    assert given[last].reviewer == "e2e-terminal"
    with httpx.Client(base_url=system.inference_url, timeout=30) as http:
        still = {i["item"] for i in http.get("/review", params={"limit": 1000}).json()["items"]}
    assert not still & set(answers)

    report = asyncio.run(labels_and_a_report(system, line, set(answers)))
    served = [given[i].served_label for i in answers]
    right = sum(s == answers[i] for s, i in zip(served, answers, strict=True))
    assert report.accuracy == pytest.approx(right / len(answers))
    print(f"YieldReported on {line}: yield {report.yield_rate:.2f}, accuracy {report.accuracy}")

    second = drift(system, f"e2e-review-b-{tag}", system.workdir / f"review-b-{tag}")
    [curated_next] = [e for e in second.events if isinstance(e, DatasetCurated)]
    manifest = get_model(store, curated_next.manifest_uri, DatasetManifest)
    entries = {e.sha256: e for e in manifest.entries}
    assert {i: entries[i].label for i in answers} == answers
    assert {entries[i].source for i in answers} == {"review:e2e-inspector", "review:e2e-terminal"}
    assert curated_next.human_labels >= len(answers)
