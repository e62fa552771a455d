"""An iteration's story from its facts alone: every section, a republished fact counted once, a
late abort refused by the saga, a dead letter of the iteration kept with it; the story as a page
and as a table row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import schemas as s
from tests.fakes import record_of
from yieldloop.audit import lineage, page
from yieldloop.audit.collect import Collected, Collector
from yieldloop.audit.table import table

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
IT = {"iteration_id": "line-1-it", "line_id": "line-1", "correlation_id": "line-1-it"}
SHA = "a" * 64
IMAGE = s.ImageRef(sha256="b" * 64, uri="file:///store/" + "b" * 64)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def predictions(n: int) -> list[s.PredictionMade]:
    return [
        s.PredictionMade(
            producer="inference", occurred_at=at(i * 0.05), line_id="line-1", item_id=str(i),
            image=IMAGE, label="OK" if i < n // 2 else "NG", confidence=0.9,
            model_name="inspection", model_version="1" if i < n - 20 else "2",
        )
        for i in range(n)
    ]  # fmt: skip


def history() -> tuple[list[s.Event], s.PredictionMade]:
    judged = predictions(200)
    tipping = judged[150]
    facts: list[s.Event] = [
        s.YieldReported(
            producer="monitor", occurred_at=at(7), line_id="line-1", window_size=29,
            yield_rate=0.4, threshold=0.7, mean_confidence=0.61, low_confidence_share=0.3,
            mix_shift=0.4, state="degraded", model_version="1",
        ),
        s.RetrainRequested(
            producer="monitor", occurred_at=at(7.5), causation_id=tipping.event_id, **IT,
            reason="yield 0.40 below 0.70", yield_rate=0.4, threshold=0.7,
            champion_version="1", images=[IMAGE],
        ),
        s.DatasetCurated(
            producer="curator", occurred_at=at(8), **IT, manifest_uri="file:///m",
            manifest_sha256=SHA, considered=100, selected=80, disagreements=10,
            split_sizes={"train": 60, "val": 5, "holdout": 15}, class_counts={"OK": 60, "NG": 20},
            base_version="1",
        ),
        *(
            s.TrainingProgressed(
                producer="trainer", occurred_at=at(8 + e), **IT, epoch=e, epochs=2,
                train_loss=0.5 / e, val_accuracy=0.9,
            )
            for e in (1, 2)
        ),
        s.ModelCandidate(
            producer="trainer", occurred_at=at(11), **IT, model_name="inspection", version="2",
            run_id="run-9", manifest_uri="file:///m", manifest_sha256=SHA, base_version="1",
        ),
        s.ModelApproved(
            producer="gatekeeper", occurred_at=at(12), **IT, model_name="inspection",
            version="2", previous_version="1", scores={"challenger_holdout": 0.95},
            reasons=["holdout accuracy 0.950 beats champion's 0.300"],
        ),
        s.ModelDeployed(
            producer="inference", occurred_at=at(13), **IT, model_name="inspection",
            version="2", replica_id="inference-1", loaded_at=at(12.9), warmup_ms=3.0,
        ),
        s.IterationAborted(
            producer="monitor", occurred_at=at(14), **IT, stage="deployed", reason="too late",
        ),
    ]  # fmt: skip
    return [*judged, *facts], tipping


def collected() -> Collected:
    events, _ = history()
    collector = Collector()
    records = [record_of(e, offset=i) for i, e in enumerate(events)]
    collector.add(records)
    collector.add([records[-3]])  # the deployment republished under its id
    return collector.collected()


def test_the_story_of_an_iteration_from_its_facts() -> None:
    got = collected()
    [story] = lineage.stories(got)
    told = lineage.to_json(story, got)

    assert told["stage"] == "deployed"
    assert told["trigger"]["prediction"]["index"] == 151
    assert told["trigger"]["signals"]["mean_confidence"] == 0.61
    assert told["dataset"]["kept"] == 80 and told["dataset"]["agreement"] == 0.9
    assert [e["epoch"] for e in told["training"]["epochs"]] == [1, 2]
    assert told["training"]["mlflow_run_id"] == "run-9" and told["training"]["version"] == "2"
    assert told["decision"]["approved"] and told["decision"]["reasons"]
    assert {m["alias"]: m["version"] for m in told["decision"]["alias_moves"]} == {
        "challenger": "2",
        "champion": "2",
        "previous": "1",
    }
    [deployed] = told["deployments"]
    assert deployed["replica_id"] == "inference-1" and deployed["first_prediction"]["index"] == 181
    assert told["retries"]["republished"] == 1
    assert [r["event_type"] for r in told["retries"]["refused"]] == ["IterationAborted"]


def test_the_story_renders_as_a_page_with_its_yield_and_as_a_row() -> None:
    got = collected()
    [story] = lineage.stories(got)
    told = lineage.to_json(story, got)

    html = page.render(told, got.lines["line-1"], window=29, ok_labels={"OK"})
    assert 'id="yield-plot"' in html and "line-1-it" in html
    assert "holdout accuracy 0.950" in html
    assert "line-1-it" in table([told]).splitlines()[1]


def test_a_trigger_of_a_label_free_signal_says_which_fired_and_what_the_signals_read() -> None:
    events, _ = history()
    washout = {
        s.YieldReported: {"yield_rate": 0.97, "input_shift": 3.2, "out_of_bounds": ["input"]},
        s.RetrainRequested: {"yield_rate": 0.97, "signal": "input"},
    }
    recorded = [e.model_copy(update=washout.get(type(e), {})) for e in events]
    collector = Collector()
    collector.add([record_of(e, offset=i) for i, e in enumerate(recorded)])
    got = collector.collected()
    [story] = lineage.stories(got)
    told = lineage.to_json(story, got)

    assert told["trigger"]["signal"] == "input"
    assert told["trigger"]["signals"]["input_shift"] == 3.2
    assert told["trigger"]["signals"]["out_of_bounds"] == ["input"]
    html = page.render(told, got.lines["line-1"], window=29, ok_labels={"OK"})
    assert "<th>signal that fired</th><td>input</td>" in html
    assert "input shift 3.20 spreads" in html and "out of bounds input" in html
    assert "input (yield 0.97)" in table([told]).splitlines()[1]


def test_a_trigger_recorded_before_the_label_free_signals_was_the_yields() -> None:
    got = collected()
    [story] = lineage.stories(got)
    told = lineage.to_json(story, got)

    assert told["trigger"]["signal"] == "yield"
    assert "yield 0.40 < 0.70" in table([told]).splitlines()[1]
