"""Replaying the monitor over a recorded stream finds the trigger the monitor recorded, at the
same prediction; with another threshold it answers what would have happened instead."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from schemas import ImageRef, PredictionMade, RetrainRequested, codec
from services.common.kafka import Record
from services.monitor.config import MonitorConfig, MonitorSettings
from tests.fakes import record_of
from yieldloop.audit.collect import Collector
from yieldloop.replay.monitor import run_monitor
from yieldloop.replay.run import with_policy
from yieldloop.replay.triggers import compare, triggers

# On a line that only passes parts, the label mix moves with the yield: with these bounds both
# leave at the 4th failed part (yield 0.6 below 0.7, mix shift 0.4 above 0.35).
SETTINGS = MonitorSettings(
    monitor=MonitorConfig(
        recent_window=10,
        baseline_predictions=20,
        confirm_predictions=15,
        report_every=5,
        mix_shift_threshold=0.35,
    )
)
START = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def line_records(oks: int, ngs: int, *, line: str = "line-1") -> list[Record]:
    """A line that passes `oks` parts, then fails `ngs`: one prediction every 50 ms."""
    records = []
    for i in range(oks + ngs):
        event = PredictionMade(
            producer="inference",
            occurred_at=START + timedelta(milliseconds=50 * i),
            line_id=line,
            item_id=f"item-{i}",
            image=ImageRef(sha256=f"{i:064x}", uri=f"file:///store/{i:064x}"),
            label="OK" if i < oks else "NG",
            confidence=0.9,
            model_name="inspection",
            model_version="1",
        )
        record = record_of(event, offset=i)
        records.append(replace(record, timestamp=int(event.occurred_at.timestamp() * 1000)))
    return records


def recorded_with(records: list[Record], outcome: list[RetrainRequested]) -> Collector:
    seen = Collector()
    seen.add(records)
    seen.add(record_of(e, offset=i) for i, e in enumerate(outcome))
    return seen


async def test_a_replay_finds_the_recorded_trigger_at_the_same_prediction() -> None:
    records = line_records(60, 60)
    first = await run_monitor(SETTINGS, records)  # stands in for what the live monitor recorded
    requests = [e for e in first.published if isinstance(e, RetrainRequested)]
    recorded = recorded_with(records, requests).collected()

    again = await run_monitor(SETTINGS, records)
    result = compare(
        triggers(recorded.events, recorded.lines), triggers(again.published, recorded.lines)
    )

    assert result["reproduced"]
    line = result["lines"]["line-1"]
    assert line["recorded"]["iterations"] == line["replayed"]["iterations"] == 1
    # the 4th failed part takes the window of 10 below 0.7; 15 more confirm the drop
    assert line["recorded"]["trigger_predictions"] == [60 + 4 + 15]
    assert line["replayed"]["trigger_predictions"] == [60 + 4 + 15]
    assert line["recorded"]["signals"] == line["replayed"]["signals"] == ["yield"]


async def test_a_lower_threshold_would_not_have_triggered_on_yield_alone() -> None:
    records = line_records(60, 60)
    what_if = with_policy(SETTINGS, {"yield_threshold": "0.0", "signals": "yield"})
    outcome = await run_monitor(what_if, records)
    assert not [e for e in outcome.published if isinstance(e, RetrainRequested)]


async def test_a_replay_whose_trigger_fired_on_another_signal_does_not_reproduce() -> None:
    records = line_records(60, 60)
    requests = [
        e
        for e in (await run_monitor(SETTINGS, records)).published
        if isinstance(e, RetrainRequested)
    ]
    recorded = recorded_with(records, requests).collected()

    again = await run_monitor(with_policy(SETTINGS, {"yield_threshold": "0.0"}), records)
    result = compare(
        triggers(recorded.events, recorded.lines), triggers(again.published, recorded.lines)
    )

    line = result["lines"]["line-1"]
    assert line["replayed"]["trigger_predictions"] == line["recorded"]["trigger_predictions"]
    assert line["replayed"]["signals"] == ["mix"]  # the label mix moved as the yield fell
    assert not result["reproduced"]


def test_a_list_setting_is_given_as_names_or_as_json() -> None:
    assert with_policy(SETTINGS, {"signals": "yield, input"}).monitor.signals == [
        "yield",
        "input",
    ]
    assert with_policy(SETTINGS, {"signals": '["mix"]'}).monitor.signals == ["mix"]
    with pytest.raises(ValueError, match="signals"):
        with_policy(SETTINGS, {"signals": "yield,smell"})


def test_a_wrong_setting_is_refused_as_the_monitor_would() -> None:
    with pytest.raises(ValueError, match="yield_threshold"):
        with_policy(SETTINGS, {"yield_threshold": "1.5"})


def test_records_are_valid_events() -> None:
    [record] = line_records(1, 0)
    assert codec.decode(record.value, PredictionMade).line_id == "line-1"
