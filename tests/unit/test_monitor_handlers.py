"""The monitor's handlers with in-memory adapters: one iteration per incident, lock released
when the iteration ends, stuck iterations time out."""

from __future__ import annotations

import pytest

from schemas import (
    ImageRef,
    IterationAborted,
    ModelRejected,
    PredictionMade,
    RetrainRequested,
    YieldReported,
)
from services.common.coordination import InMemoryCoordination
from services.monitor import handlers
from services.monitor.bootstrap import Monitor, bootstrap
from services.monitor.config import MonitorConfig, MonitorSettings
from tests.fakes import Published

LINE = "line-7"


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def monitor() -> tuple[Monitor, Published, InMemoryCoordination]:
    published, coordination = Published(), InMemoryCoordination()
    config = MonitorConfig(
        recent_window=10,
        baseline_predictions=20,
        confirm_predictions=15,
        cooldown_predictions=10,
        retry_cooldown_predictions=80,
        report_every=5,
        iteration_timeout_s=60,
    )
    m = bootstrap(
        publish=published, settings=MonitorSettings(monitor=config), coordination=coordination
    )
    m.clock = Clock()
    return m, published, coordination


def prediction(i: int, label: str) -> PredictionMade:
    image = ImageRef(sha256=f"{i:064x}", uri=f"file:///store/{i}")
    return PredictionMade(
        producer="test",
        line_id=LINE,
        item_id=str(i),
        image=image,
        label=label,
        confidence=0.9,
        model_name="m",
        model_version="1",
    )


async def feed(m: Monitor, labels: list[str], start: int = 0) -> None:
    for i, label in enumerate(labels, start):
        await handlers.prediction_made(prediction(i, label), m)


async def test_a_lasting_drop_opens_exactly_one_iteration(monitor) -> None:  # type: ignore[no-untyped-def]
    m, published, coordination = monitor
    await feed(m, ["OK"] * 60 + ["NG"] * 200)

    [request] = published.of(RetrainRequested)
    assert request.line_id == LINE and request.correlation_id == request.iteration_id
    # the drifted parts, and the window that first showed the drop
    assert all(int(ref.sha256, 16) >= 60 - 10 for ref in request.images)
    assert sum(int(ref.sha256, 16) >= 60 for ref in request.images) >= 15
    assert await coordination.holder(f"line:{LINE}") == request.iteration_id
    assert published.of(YieldReported)[-1].yield_rate == 0.0


async def test_a_rejected_model_frees_the_line_but_retries_only_after_a_long_pause(monitor) -> None:  # type: ignore[no-untyped-def]
    m, published, coordination = monitor
    await feed(m, ["OK"] * 60 + ["NG"] * 100)
    [request] = published.of(RetrainRequested)

    await handlers.iteration_ended(
        ModelRejected(
            producer="gatekeeper",
            iteration_id=request.iteration_id,
            line_id=LINE,
            model_name="m",
            version="2",
            reasons=["worse"],
            scores={},
        ),
        m,
    )
    assert await coordination.holder(f"line:{LINE}") is None

    await feed(m, ["NG"] * 80, start=1000)  # the same incident: no retrain storm
    assert len(published.of(RetrainRequested)) == 1
    await feed(m, ["NG"] * 40, start=2000)  # past the retry pause, the drop is confirmed again
    assert len(published.of(RetrainRequested)) == 2


async def test_an_iteration_without_decision_times_out(monitor) -> None:  # type: ignore[no-untyped-def]
    m, published, coordination = monitor
    await feed(m, ["OK"] * 60 + ["NG"] * 100)
    [request] = published.of(RetrainRequested)

    m.clock.now += 61  # type: ignore[attr-defined]
    await feed(m, ["NG"], start=5000)

    [aborted] = published.of(IterationAborted)
    assert aborted.iteration_id == request.iteration_id and "no decision" in aborted.reason
    assert await coordination.holder(f"line:{LINE}") is None


async def test_a_line_locked_elsewhere_does_not_trigger(monitor) -> None:  # type: ignore[no-untyped-def]
    m, published, coordination = monitor
    await coordination.acquire(f"line:{LINE}", "another-monitor", ttl_s=60)
    await feed(m, ["OK"] * 60 + ["NG"] * 100)
    assert published.of(RetrainRequested) == []
