"""The monitor's handlers with in-memory adapters: one iteration at a time per model, drops of
other lines queued, stuck iterations timed out by the timer, and a restart that resumes from
the checkpoint without a second trigger."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas import (
    AlertRaised,
    Event,
    ImageRef,
    IterationAborted,
    LabelProvided,
    ModelApproved,
    ModelDeployed,
    ModelRejected,
    PredictionMade,
    RetrainQueued,
    RetrainRequested,
    YieldReported,
)
from services.common.coordination import InMemoryCoordination
from services.common.iteration import Stage, Transition
from services.common.ledger import InMemoryLedger
from services.monitor import handlers
from services.monitor.bootstrap import Monitor, bootstrap
from services.monitor.config import MonitorConfig, MonitorSettings
from services.monitor.domain import LineState
from services.monitor.state import MonitorState
from tests.fakes import Crash, DeadLetters, Published, record_of

CONFIG = MonitorConfig(
    recent_window=10,
    baseline_predictions=20,
    confirm_predictions=15,
    cooldown_predictions=10,
    retry_cooldown_predictions=80,
    report_every=5,
    iteration_timeout_s=60,
)


LINE_TIME = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Plant:
    """The monitor's outside world, which outlives a monitor process."""

    published: Published
    coordination: InMemoryCoordination
    ledger: InMemoryLedger
    dead: DeadLetters
    clock: Clock
    offset: int = 0

    def monitor(self) -> Monitor:
        """A monitor process, fresh as after a restart."""
        m = bootstrap(
            publish=self.published,
            dead_letter=self.dead,
            settings=MonitorSettings(monitor=CONFIG),
            coordination=self.coordination,
            ledger=self.ledger,
        )
        m.clock = self.clock
        asyncio.run(handlers.restore(m))
        asyncio.run(handlers.resume(m))
        return m


@pytest.fixture
def plant() -> Plant:
    return Plant(Published(), InMemoryCoordination(), InMemoryLedger(), DeadLetters(), Clock())


def prediction(
    line: str, i: int, label: str, stats: dict[str, float] | None = None, version: str = "1"
) -> PredictionMade:
    image = ImageRef(sha256=f"{i:064x}", uri=f"file:///store/{i}")
    return PredictionMade(
        producer="test",
        occurred_at=LINE_TIME,
        line_id=line,
        item_id=str(i),
        image=image,
        label=label,
        confidence=0.9,
        model_name="m",
        model_version=version,
        input_stats=stats or {},
    )


def feed(
    plant: Plant, m: Monitor, line: str, labels: list[str], *, batch: int = 7, version: str = "1"
) -> None:
    """The line's predictions, arriving in batches as a consumer would fetch them."""
    events: list[Event] = [
        prediction(line, plant.offset + i, lb, version=version) for i, lb in enumerate(labels)
    ]
    deliver(plant, m, events, batch=batch)


def deliver(plant: Plant, m: Monitor, events: list[Event], *, batch: int = 7) -> None:
    records = []
    for event in events:
        records.append(record_of(event, offset=plant.offset))
        plant.offset += 1
    for start in range(0, len(records), batch):
        asyncio.run(handlers.records_arrived(records[start : start + batch], m))


def test_a_lasting_drop_opens_exactly_one_iteration(plant: Plant) -> None:
    m = plant.monitor()
    feed(plant, m, "line-7", ["OK"] * 60 + ["NG"] * 200)

    [request] = plant.published.of(RetrainRequested)
    assert request.line_id == "line-7" and request.correlation_id == request.iteration_id
    assert all(int(ref.sha256, 16) >= 60 - 10 for ref in request.images)  # the drifted parts
    assert sum(int(ref.sha256, 16) >= 60 for ref in request.images) >= 15
    active = asyncio.run(plant.ledger.active())
    assert active is not None and active.iteration_id == request.iteration_id
    assert plant.published.of(YieldReported)[-1].yield_rate == 0.0


def test_a_shift_in_the_images_opens_an_iteration_that_names_its_signal(plant: Plant) -> None:
    m = plant.monitor()
    brightness = [0.3 + 0.02 * ((i * 7) % 5 - 2) for i in range(260)]  # steady, then lifted
    events: list[Event] = [
        prediction("line-9", i, "OK", {"mean": b + (0.3 if i >= 100 else 0.0)})
        for i, b in enumerate(brightness)
    ]
    deliver(plant, m, events)

    [request] = plant.published.of(RetrainRequested)
    assert request.signal == "input" and request.yield_rate == 1.0
    assert "input shift" in request.reason
    last = plant.published.of(YieldReported)[-1]
    assert last.input_shift is not None and last.input_shift > 5


def test_a_second_line_dropping_meanwhile_is_queued_then_opens_the_next_iteration(
    plant: Plant,
) -> None:
    m = plant.monitor()
    feed(plant, m, "line-a", ["OK"] * 60 + ["NG"] * 40)
    feed(plant, m, "line-b", ["OK"] * 60 + ["NG"] * 40)

    [first] = plant.published.of(RetrainRequested)
    [drop] = plant.published.of(RetrainQueued)
    assert drop.line_id == "line-b" and drop.iteration_id == first.iteration_id
    assert [d.event_id for d in asyncio.run(plant.ledger.pending())] == [drop.event_id]

    rejected = ModelRejected(
        producer="gatekeeper",
        iteration_id=first.iteration_id,
        line_id="line-a",
        model_name="m",
        version="2",
        reasons=["worse"],
        scores={},
    )
    asyncio.run(plant.ledger.record([rejected], sent=True))
    deliver(plant, m, [rejected])
    asyncio.run(handlers.tick(m))

    second = plant.published.of(RetrainRequested)[-1]
    assert second.iteration_id != first.iteration_id and second.line_id == "line-b"
    assert second.joined == [drop.event_id] and second.images == drop.images
    assert m.state.line("line-a").state is LineState.COOLDOWN
    assert m.state.line("line-b").state is LineState.IN_ITERATION


def test_a_rejected_model_frees_the_line_but_retries_only_after_a_long_pause(
    plant: Plant,
) -> None:
    m = plant.monitor()
    feed(plant, m, "line-7", ["OK"] * 60 + ["NG"] * 100)
    [request] = plant.published.of(RetrainRequested)
    rejected = ModelRejected(
        producer="gatekeeper",
        iteration_id=request.iteration_id,
        line_id="line-7",
        model_name="m",
        version="2",
        reasons=["worse"],
        scores={},
    )
    asyncio.run(plant.ledger.record([rejected], sent=True))
    deliver(plant, m, [rejected])
    assert asyncio.run(plant.ledger.active()) is None

    [alert] = plant.published.of(AlertRaised)  # the line stays degraded: people must look
    assert alert.severity == "critical" and alert.line_id == "line-7"
    assert alert.details["kind"] == "line_degraded" and alert.details["why"] == "worse"
    deliver(plant, m, [rejected])  # redelivered: no second alert
    assert len(plant.published.of(AlertRaised)) == 1

    feed(plant, m, "line-7", ["NG"] * 80)  # the same incident: no retrain storm
    assert len(plant.published.of(RetrainRequested)) == 1
    feed(plant, m, "line-7", ["NG"] * 40)  # past the retry pause, the drop is confirmed again
    assert len(plant.published.of(RetrainRequested)) == 2


def test_predictions_the_replaced_model_served_before_the_swap_open_no_second_iteration(
    plant: Plant,
) -> None:
    """A monitor that falls behind (a restart, a lag) reads the deployment, then a backlog of
    what the old model judged during the iteration: that backlog says nothing of v2."""
    m = plant.monitor()
    feed(plant, m, "line-7", ["OK"] * 60 + ["NG"] * 100)
    [request] = plant.published.of(RetrainRequested)
    it = {"iteration_id": request.iteration_id, "line_id": "line-7", "model_name": "m"}
    approved = ModelApproved(
        producer="gatekeeper", version="2", previous_version="1", scores={}, **it
    )
    deployed = ModelDeployed(
        producer="inference", version="2", replica_id="r1", loaded_at=LINE_TIME, warmup_ms=1.0, **it
    )
    asyncio.run(plant.ledger.record([approved], sent=True))
    asyncio.run(plant.ledger.record([deployed], sent=True))
    deliver(plant, m, [deployed])
    assert m.state.line("line-7").state is LineState.COOLDOWN

    feed(plant, m, "line-7", ["NG"] * 100)  # v1's backlog, judged before the swap
    assert len(plant.published.of(RetrainRequested)) == 1
    assert m.state.line("line-7").state is LineState.COOLDOWN

    feed(plant, m, "line-7", ["OK"] * 30, version="2")  # v2 serves and repairs the line
    assert m.state.line("line-7").state is LineState.HEALTHY
    restarted = plant.monitor()  # the checkpoint keeps what was passed over
    assert restarted.state.checkpoint() == m.state.checkpoint()
    feed(plant, restarted, "line-7", ["NG"] * 40, version="1")  # a rollback to v1: watched again
    assert len(plant.published.of(RetrainRequested)) == 2


def test_a_stuck_iteration_times_out_on_the_timer_with_no_prediction_needed(
    plant: Plant,
) -> None:
    m = plant.monitor()
    feed(plant, m, "line-7", ["OK"] * 60 + ["NG"] * 100)
    [request] = plant.published.of(RetrainRequested)

    plant.clock.now += timedelta(seconds=61)
    asyncio.run(handlers.tick(m))

    [aborted] = plant.published.of(IterationAborted)
    assert aborted.iteration_id == request.iteration_id and "no decision" in aborted.reason
    assert asyncio.run(plant.ledger.active()) is None
    it = asyncio.run(plant.ledger.get(request.iteration_id))
    assert it is not None and it.stage is Stage.ABORTED
    assert m.state.line("line-7").state is LineState.COOLDOWN


def test_a_restarted_monitor_resumes_with_the_same_state_and_no_second_trigger(
    plant: Plant,
) -> None:
    m = plant.monitor()
    feed(plant, m, "line-7", ["OK"] * 60 + ["NG"] * 30)
    before = m.state.checkpoint()

    restarted = plant.monitor()
    assert restarted.state.checkpoint() == before
    plant.offset -= 40  # the last records come again: their offsets were not committed
    feed(plant, restarted, "line-7", ["NG"] * 40)
    feed(plant, restarted, "line-7", ["NG"] * 60)

    assert len(plant.published.of(RetrainRequested)) == 1


def test_what_a_crash_left_unpublished_goes_out_after_the_restart(plant: Plant) -> None:
    m = plant.monitor()
    plant.published.crash_once(lambda e: isinstance(e, RetrainRequested))
    with pytest.raises(Crash):
        feed(plant, m, "line-7", ["OK"] * 60 + ["NG"] * 100, batch=200)
    assert plant.published.of(RetrainRequested) == []

    plant.monitor()

    [request] = plant.published.of(RetrainRequested)
    active = asyncio.run(plant.ledger.active())
    assert active is not None and active.iteration_id == request.iteration_id


def test_a_poison_record_is_dead_lettered_alone(plant: Plant) -> None:
    m = plant.monitor()
    good = [prediction("line-7", i, "OK") for i in range(12)]
    records = [record_of(e, offset=i) for i, e in enumerate(good[:5])]
    records.append(record_of(b"not an event", offset=5, topic=records[0].topic))
    records += [record_of(e, offset=6 + i) for i, e in enumerate(good[5:])]

    asyncio.run(handlers.records_arrived(records, m))

    [(dead, _)] = plant.dead.records
    assert dead.value == b"not an event"
    assert m.state.line("line-7").predictions_seen == 12


class FlakyLedger(InMemoryLedger):
    """Redis away once, when the first request is recorded."""

    failed = False

    async def record(self, events: Sequence[Event], *, sent: bool) -> Transition:
        if not self.failed and isinstance(events[0], RetrainRequested):
            self.failed = True
            raise ConnectionError("redis is restarting")
        return await super().record(events, sent=sent)


def test_a_transient_fault_mid_batch_leaves_no_trace(plant: Plant) -> None:
    plant.ledger = FlakyLedger()
    m = plant.monitor()
    feed(plant, m, "line-7", ["OK"] * 60)
    before = m.state.checkpoint()
    records = [record_of(prediction("line-7", 100 + i, "NG"), offset=60 + i) for i in range(40)]

    with pytest.raises(ConnectionError):
        asyncio.run(handlers.records_arrived(records, m))
    assert m.state.checkpoint() == before  # nothing half-applied
    asyncio.run(handlers.records_arrived(records, m))  # the retry

    assert m.state.line("line-7").predictions_seen == 100
    assert len(plant.published.of(RetrainRequested)) == 1


def test_a_failed_publish_sends_the_same_events_on_the_retry(plant: Plant) -> None:
    m = plant.monitor()
    feed(plant, m, "line-7", ["OK"] * 60)
    records = [record_of(prediction("line-7", 100 + i, "NG"), offset=60 + i) for i in range(40)]
    plant.published.crash_once(lambda e: isinstance(e, RetrainRequested))

    with pytest.raises(Crash):
        asyncio.run(handlers.records_arrived(records, m))
    asyncio.run(handlers.records_arrived(records, m))  # the retry: applied once already

    assert m.state.line("line-7").predictions_seen == 100
    reports = plant.published.of(YieldReported)
    assert len({r.event_id for r in reports}) == len({r.model_dump_json() for r in reports})
    assert len(plant.published.of(RetrainRequested)) == 1


class DownCheckpoints(InMemoryCoordination):
    """Redis gone for checkpoints, after the ledger took a request: as a crash in between."""

    down = False

    async def save_checkpoint(
        self, name: str, state: dict[str, Any], parts: Mapping[str, Any] | None = None
    ) -> None:
        if self.down:
            raise ConnectionError("redis went away")
        await super().save_checkpoint(name, state, parts)


def test_a_request_derived_again_goes_out_as_it_was_recorded(plant: Plant) -> None:
    plant.coordination = DownCheckpoints()
    m = plant.monitor()
    feed(plant, m, "line-7", ["OK"] * 60)
    records = [record_of(prediction("line-7", 100 + i, "NG"), offset=60 + i) for i in range(40)]
    plant.coordination.down = True
    with pytest.raises(ConnectionError):
        asyncio.run(handlers.records_arrived(records, m))
    active = asyncio.run(plant.ledger.active())
    assert active is not None and plant.published.of(RetrainRequested) == []
    fact = active.fact(Stage.REQUESTED)
    assert fact is not None

    plant.coordination.down = False
    plant.clock.now += timedelta(seconds=30)  # the restart takes a while
    restarted = plant.monitor()
    asyncio.run(handlers.records_arrived(records, restarted))  # offsets were not committed

    assert plant.published.of(RetrainRequested) == list(fact.events)


def test_a_checkpoint_dumps_again_only_the_lines_that_changed(plant: Plant) -> None:
    m = plant.monitor()
    feed(plant, m, "line-7", ["OK"] * 30)
    feed(plant, m, "line-8", ["OK"] * 30)
    first = m.state.checkpoint()
    feed(plant, m, "line-8", ["NG"] * 5)
    second = m.state.checkpoint()

    assert second["lines"]["line-7"] is first["lines"]["line-7"]  # reused, not dumped again
    assert second["lines"]["line-8"]["counts"][0] == first["lines"]["line-8"]["counts"][0] + 5
    fresh = MonitorState.restore(m.state.policy, second).checkpoint()
    assert fresh == second


class CountedCheckpoints(InMemoryCoordination):
    """Which lines each checkpoint wrote."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[set[str]] = []

    async def save_checkpoint(
        self, name: str, state: dict[str, Any], parts: Mapping[str, Any] | None = None
    ) -> None:
        assert "lines" not in state  # each line is a part of its own
        self.written.append(set(parts or {}))
        await super().save_checkpoint(name, state, parts)


def test_a_checkpoint_writes_only_the_lines_that_changed_and_restores_whole(plant: Plant) -> None:
    plant.coordination = counted = CountedCheckpoints()
    m = plant.monitor()
    for k in range(5):
        feed(plant, m, f"line-{k}", ["OK"] * 30)
    counted.written.clear()
    feed(plant, m, "line-3", ["NG"] * 20)
    asyncio.run(handlers.tick(m))

    assert counted.written and set().union(*counted.written) == {"line-3"}
    restarted = plant.monitor()
    assert restarted.state.checkpoint() == m.state.checkpoint()
    counted.written.clear()
    feed(plant, restarted, "line-1", ["OK"] * 3)
    assert set().union(*counted.written) == {"line-1"}  # the restored lines are not written again


def test_a_checkpoint_that_held_its_lines_inline_still_restores(plant: Plant) -> None:
    m = plant.monitor()
    feed(plant, m, "line-7", ["OK"] * 60 + ["NG"] * 10)
    whole = m.state.checkpoint()
    plant.coordination = InMemoryCoordination()
    asyncio.run(plant.coordination.save_checkpoint(handlers.CHECKPOINT, whole))

    restarted = plant.monitor()
    assert restarted.state.checkpoint() == whole
    feed(plant, restarted, "line-8", ["OK"] * 5)
    again = plant.monitor()  # the inline lines were written as parts of their own
    assert again.state.checkpoint()["lines"].keys() == {"line-7", "line-8"}
    assert again.state.checkpoint() == restarted.state.checkpoint()


def test_a_trigger_says_what_each_sample_was_served(plant: Plant) -> None:
    m = plant.monitor()
    feed(plant, m, "line-7", ["OK"] * 60 + ["NG"] * 200)
    [request] = plant.published.of(RetrainRequested)
    assert set(request.served) == {ref.sha256 for ref in request.images}
    assert set(request.served.values()) <= {"OK", "NG"} and "NG" in request.served.values()


def label(line: str, i: int, *, served: str, truth: str) -> LabelProvided:
    image = ImageRef(sha256=f"{i:064x}", uri=f"file:///store/{i}")
    return LabelProvided(
        producer="review",
        iteration_id="it-x",
        line_id=line,
        item=image.sha256,
        image=image,
        label=truth,
        reviewer="ana",
        served_label=served,
    )


def test_labels_people_give_make_a_true_accuracy_beside_the_yield(plant: Plant) -> None:
    m = plant.monitor()
    feed(plant, m, "line-7", ["OK"] * 30)
    assert plant.published.of(YieldReported)[-1].accuracy is None

    deliver(
        plant,
        m,
        [
            label("line-7", 1, served="OK", truth="OK"),
            label("line-7", 2, served="OK", truth="NG"),
            label("line-7", 3, served="NG", truth="NG"),
            label("line-7", 3, served="NG", truth="OK"),  # a corrected answer replaces its first
            label("line-9", 4, served="OK", truth="NG"),  # another line's
        ],
    )
    feed(plant, m, "line-7", ["OK"] * 10)

    report = plant.published.of(YieldReported)[-1]
    assert report.line_id == "line-7" and report.labelled == 3
    assert report.accuracy == pytest.approx(1 / 3)
    restarted = plant.monitor()  # the figures survive a restart
    feed(plant, restarted, "line-7", ["OK"] * 10)
    assert plant.published.of(YieldReported)[-1].accuracy == pytest.approx(1 / 3)
