"""What the monitor does with each batch of records and on each tick of its timer.

Every record is applied once: the checkpoint holds each line's state, how far each partition was
applied and the events still to publish (the outbox). A batch is applied, checkpointed, then
published. A transient fault puts the state back to the last checkpoint and the batch is tried
again; the ids of what it derives are the same each time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import groupby

from schemas import (
    CATALOG,
    AlertRaised,
    ImageRef,
    IterationAborted,
    LabelProvided,
    ModelApproved,
    ModelRejected,
    PredictionMade,
    RetrainQueued,
    RetrainRequested,
    YieldReported,
    codec,
    stable_id,
)
from services.common import faults
from services.common.iteration import HOLDS_MODEL, Iteration, Result, Stage
from services.common.kafka import Record
from services.common.retry import POISON
from services.monitor.bootstrap import Monitor
from services.monitor.domain import Trigger, WindowHealth
from services.monitor.state import MonitorState, Wait, changed_lines, head, loaded

PRODUCER = "monitor"
CHECKPOINT = "monitor"
EVENT_ON = {spec.name: spec.event for spec in CATALOG}


async def restore(m: Monitor) -> None:
    """Resume where the last checkpoint left off (before any record is fetched)."""
    raw = await m.coordination.checkpoint(CHECKPOINT)
    inline = bool(raw and raw.get("lines"))
    m.saved = loaded(raw)
    m.state = MonitorState.restore(m.config.policy(), m.saved)
    if inline and m.saved is not None:  # an older checkpoint: its lines become parts now
        await m.coordination.save_checkpoint(CHECKPOINT, head(m.saved), m.saved["lines"])


async def resume(m: Monitor) -> None:
    """What the last run had not published goes out now (once the broker is up)."""
    async with m.busy:
        await flush(m)


async def records_arrived(records: Sequence[Record], m: Monitor) -> None:
    async with m.busy:
        try:
            await apply_all(records, m)
            await flush(m)
        except BaseException:
            m.state = MonitorState.restore(m.config.policy(), m.saved)  # as if never applied
            raise


async def apply_all(records: Sequence[Record], m: Monitor) -> None:
    """Records of a partition come together and in order: one offset check per partition."""
    ended = False
    for (topic, partition), group in groupby(records, key=lambda r: (r.topic, r.partition)):
        kind, applied = EVENT_ON[topic], m.state.applied_up_to(topic, partition)
        for record in group:
            if record.offset < applied:
                continue
            try:
                event = codec.decode(record.value, kind)
            except POISON as exc:
                await m.dead_letter(record, exc)
            else:
                if isinstance(event, PredictionMade):
                    await prediction_made(event, m)
                elif isinstance(event, LabelProvided):
                    if event.served_label is not None:
                        m.state.line(event.line_id).labelled(
                            event.item, correct=event.label == event.served_label
                        )
                else:
                    ended = True
            m.state.advance(topic, partition, record.offset)
    if ended:
        await settle_waiting(m)


async def prediction_made(event: PredictionMade, m: Monitor) -> None:
    verdict = m.state.line(event.line_id).observe(
        ref=event.image.without_data(),
        label=event.label,
        confidence=event.confidence,
        features=event.input_stats,
        model=event.model_version,
    )
    if verdict.report is not None:
        m.state.outbox.append(yield_reported(event, verdict.report, at=m.clock()))
    if verdict.trigger is not None:
        await open_iteration(event, verdict.trigger, m)


async def open_iteration(event: PredictionMade, trigger: Trigger[ImageRef], m: Monitor) -> None:
    """One iteration at a time per model: while another holds it, the drop is queued."""
    iteration_id = f"{event.line_id}-{event.occurred_at:%Y%m%dT%H%M%S}-{event.event_id.hex[:6]}"
    request = RetrainRequested(
        event_id=stable_id("requested", iteration_id),
        producer=PRODUCER,
        occurred_at=m.clock(),
        correlation_id=iteration_id,
        causation_id=event.event_id,
        iteration_id=iteration_id,
        line_id=event.line_id,
        reason=trigger.reason,
        yield_rate=trigger.yield_rate,
        threshold=trigger.threshold,
        champion_version=event.model_version,
        images=trigger.samples,
        served=served(trigger),
        signal=trigger.signal,
    )
    if await opened(request, m):
        m.state.waiting[event.line_id] = Wait(iteration_id=iteration_id)
        return
    holder = await m.ledger.active()
    drop = RetrainQueued(
        event_id=stable_id("queued", iteration_id),
        producer=PRODUCER,
        occurred_at=m.clock(),
        correlation_id=holder.iteration_id if holder else None,
        causation_id=event.event_id,
        iteration_id=holder.iteration_id if holder else iteration_id,
        line_id=event.line_id,
        reason=trigger.reason,
        yield_rate=trigger.yield_rate,
        threshold=trigger.threshold,
        champion_version=event.model_version,
        images=trigger.samples,
        served=served(trigger),
        signal=trigger.signal,
    )
    await m.ledger.queue(drop)
    m.state.waiting[event.line_id] = Wait(drop_id=str(drop.event_id))
    m.state.outbox.append(drop)


def served(trigger: Trigger[ImageRef]) -> dict[str, str]:
    return {ref.sha256: label for ref, label in zip(trigger.samples, trigger.served, strict=True)}


async def opened(request: RetrainRequested, m: Monitor) -> bool:
    """Record the request; False when another iteration holds the model. Applied again after a
    crash, the request is found recorded and goes out again unless it was seen already."""
    t = await m.ledger.record([request], sent=False)
    if t.result is Result.REFUSED:
        return False
    fact = t.after.fact(Stage.REQUESTED)
    if t.result is Result.RECORDED:
        m.state.outbox.append(request)
    elif fact is not None and not fact.sent:
        m.state.outbox.extend(fact.events)  # as recorded, not as derived again just now
    return True


async def tick(m: Monitor) -> None:
    """On the timer: a stuck iteration times out, queued drops open the next iteration, lines
    whose iteration ended are freed."""
    async with m.busy:
        await abort_if_stuck(m)
        await open_from_queue(m)
        await settle_waiting(m)
        await flush(m)


async def abort_if_stuck(m: Monitor) -> None:
    active = await m.ledger.active()
    for stage in HOLDS_MODEL:
        m.runtime.metrics.active_iteration.labels(stage).set(
            active is not None and active.stage is stage
        )
    timeout = timedelta(seconds=m.config.iteration_timeout_s)
    if active is None or m.clock() - active.opened_at < timeout:
        return
    aborted = IterationAborted(
        event_id=stable_id("aborted", active.iteration_id),
        producer=PRODUCER,
        occurred_at=m.clock(),
        correlation_id=active.iteration_id,
        iteration_id=active.iteration_id,
        line_id=active.line_id,
        stage=str(active.stage),
        reason=f"no decision within {timeout.total_seconds():.0f} s (stuck at {active.stage})",
    )
    t = await m.ledger.record([aborted], sent=False)
    if t.result is Result.RECORDED:
        m.state.outbox.append(aborted)


async def open_from_queue(m: Monitor) -> None:
    """With the model free, the drops queued meanwhile open one iteration together."""
    drops = await m.ledger.pending()
    if not drops or await m.ledger.active() is not None:
        return
    first = drops[0]
    iteration_id = f"{first.line_id}-{first.occurred_at:%Y%m%dT%H%M%S}-{first.event_id.hex[:6]}"
    images = list({ref.sha256: ref for d in drops for ref in d.images}.values())
    await opened(
        RetrainRequested(
            event_id=stable_id("requested", iteration_id),
            producer=PRODUCER,
            occurred_at=m.clock(),
            correlation_id=iteration_id,
            causation_id=first.event_id,
            iteration_id=iteration_id,
            line_id=first.line_id,
            reason="queued: " + "; ".join(f"{d.line_id}: {d.reason}" for d in drops),
            yield_rate=first.yield_rate,
            threshold=first.threshold,
            champion_version=first.champion_version,
            images=images[: m.config.sample_limit],
            joined=[d.event_id for d in drops],
            served={sha: label for d in drops for sha, label in d.served.items()},
            signal=first.signal,
        ),
        m,
    )


async def settle_waiting(m: Monitor) -> None:
    """Lines whose iteration is over watch again: after a deployment, with a fresh window; after
    a refusal or an abort, only after the longer retry pause."""
    for line_id, wait in list(m.state.waiting.items()):
        iteration_id = wait.iteration_id or await m.ledger.taken_by(wait.drop_id or "")
        it = None if iteration_id is None else await m.ledger.get(iteration_id)
        if it is None or not over(it):
            m.state.waiting[line_id] = Wait(iteration_id) if iteration_id else wait
            continue
        del m.state.waiting[line_id]
        line, repaired = m.state.line(line_id), it.stage is Stage.DEPLOYED
        if repaired:
            line.model_changed(replaced=replaced_by(it))
        else:
            m.state.outbox.append(stays_degraded(line_id, it, m))
        line.end_iteration(repaired=repaired)


def replaced_by(it: Iteration) -> str | None:
    """The version the iteration's approval replaced."""
    decision = it.fact(Stage.DECIDED)
    approval = decision.event if decision is not None else None
    return approval.previous_version if isinstance(approval, ModelApproved) else None


def stays_degraded(line_id: str, it: Iteration, m: Monitor) -> AlertRaised:
    """The iteration ended without a new model, so the line stays degraded and no iteration
    may start for it until the retry pause is over: people must look."""
    ending = it.fact(Stage.ABORTED) or it.fact(Stage.DECIDED)
    event = ending.event if ending is not None else None
    why = (
        event.reason
        if isinstance(event, IterationAborted)
        else "; ".join(event.reasons)
        if isinstance(event, ModelRejected)
        else ""
    )
    health = m.state.line(line_id)
    pause = m.config.retry_cooldown_predictions
    return AlertRaised(
        event_id=stable_id("degraded", it.iteration_id, line_id),
        producer=PRODUCER,
        occurred_at=m.clock(),
        correlation_id=it.iteration_id,
        severity="critical",
        summary=(
            f"line {line_id} stays degraded: iteration {it.iteration_id} ended {it.stage} "
            f"without a new model; no iteration is possible for {pause} predictions"
        ),
        iteration_id=it.iteration_id,
        line_id=line_id,
        details={
            "kind": "line_degraded",
            "why": why,
            "threshold": health.threshold,
            "retry_after_predictions": pause,
        },
    )


def over(it: Iteration) -> bool:
    return it.stage in (Stage.DEPLOYED, Stage.ABORTED) or it.approved is False


async def flush(m: Monitor) -> None:
    """Checkpoint (state, offsets, outbox), then publish the outbox in order. After pipeline
    events went out the checkpoint is written again, so a restart does not send them twice."""
    await save(m)
    if not m.state.outbox:
        return
    pipeline = any(not isinstance(e, YieldReported) for e in m.state.outbox)
    if pipeline:
        faults.point("monitor.after_effect")
    await m.publish.all(m.state.outbox)
    if pipeline:
        faults.point("monitor.after_publish")
    m.state.outbox.clear()
    m.saved = {**(m.saved or {}), "outbox": []}  # what a failed batch goes back to
    if pipeline:
        await m.coordination.save_checkpoint(CHECKPOINT, head(m.saved))


async def save(m: Monitor) -> None:
    """Written before anything is published; only then is it what a failed batch goes back to
    (before that, the batch is applied again from the last one, as after a crash)."""
    saved = m.state.checkpoint()
    await m.coordination.save_checkpoint(CHECKPOINT, head(saved), changed_lines(saved, m.saved))
    m.saved = saved


def yield_reported(event: PredictionMade, health: WindowHealth, *, at: datetime) -> YieldReported:
    return YieldReported(
        producer=PRODUCER,
        occurred_at=at,
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
        accuracy=health.accuracy,
        labelled=health.labelled,
        input_shift=health.input_shift,
        out_of_bounds=list(health.out_of_bounds),
    )
