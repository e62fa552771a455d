"""What the monitor does for each event it reacts to."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from schemas import (
    IterationAborted,
    ModelDeployed,
    ModelRejected,
    PredictionMade,
    RetrainRequested,
    YieldReported,
)
from services.monitor.bootstrap import Monitor, OpenIteration
from services.monitor.domain import Trigger, WindowHealth

PRODUCER = "monitor"


def lock_name(line_id: str) -> str:
    return f"line:{line_id}"


async def prediction_made(event: PredictionMade, m: Monitor) -> None:
    await abort_if_stuck(event, m)
    line = m.line(event.line_id)
    verdict = line.observe(
        ref=event.image.without_data(), label=event.label, confidence=event.confidence
    )
    if verdict.report is not None:
        await m.publish(yield_reported(event, verdict.report))
    if verdict.trigger is not None:
        await open_iteration(event, verdict.trigger, m)


async def open_iteration(event: PredictionMade, trigger: Trigger, m: Monitor) -> None:  # type: ignore[type-arg]
    """One iteration per incident: the Redis lock keeps every other trigger of the line out."""
    iteration_id = f"{event.line_id}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    ttl = int(m.config.iteration_timeout_s) + 60
    if not await m.coordination.acquire(lock_name(event.line_id), iteration_id, ttl_s=ttl):
        m.line(event.line_id).release_trigger()
        return
    m.open[event.line_id] = OpenIteration(iteration_id, m.clock())
    await m.publish(
        RetrainRequested(
            producer=PRODUCER,
            correlation_id=iteration_id,
            causation_id=event.event_id,
            iteration_id=iteration_id,
            line_id=event.line_id,
            reason=trigger.reason,
            yield_rate=trigger.yield_rate,
            threshold=trigger.threshold,
            champion_version=event.model_version,
            images=trigger.samples,
        )
    )


async def iteration_ended(
    event: ModelDeployed | ModelRejected | IterationAborted, m: Monitor
) -> None:
    if isinstance(event, ModelDeployed) and event.line_id is not None:
        m.line(event.line_id).model_changed()
    if event.line_id is None or event.iteration_id is None:
        return
    await m.coordination.release(lock_name(event.line_id), event.iteration_id)
    opened = m.open.get(event.line_id)
    if opened is not None and opened.iteration_id == event.iteration_id:
        del m.open[event.line_id]
        m.line(event.line_id).end_iteration(repaired=isinstance(event, ModelDeployed))


async def abort_if_stuck(event: PredictionMade, m: Monitor) -> None:
    """An iteration with no decision in time ends as IterationAborted, never stuck forever."""
    opened = m.open.get(event.line_id)
    if opened is None or m.clock() - opened.opened_at < m.config.iteration_timeout_s:
        return
    aborted = IterationAborted(
        producer=PRODUCER,
        correlation_id=opened.iteration_id,
        iteration_id=opened.iteration_id,
        line_id=event.line_id,
        stage="monitor",
        reason=f"no decision within {m.config.iteration_timeout_s:.0f} s",
    )
    await m.publish(aborted)
    await iteration_ended(aborted, m)


def yield_reported(event: PredictionMade, health: WindowHealth) -> YieldReported:
    return YieldReported(
        producer=PRODUCER,
        causation_id=event.event_id,
        line_id=event.line_id,
        window_size=health.window_size,
        yield_rate=health.yield_rate,
        threshold=health.threshold,
        baseline=health.baseline,
        mean_confidence=health.mean_confidence,
        low_confidence_share=health.low_confidence_share,
        mix_shift=health.mix_shift,
        state=str(health.state),
        model_version=event.model_version,
    )
