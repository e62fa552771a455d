"""One stage of an iteration, done once however often its input arrives.

The input fact is recorded first (the iteration's state is a projection of its facts). The stage
acts only where the saga expects it; its outcome is recorded (the outbox) before it is
published, and marked sent after. A redelivered input finds the outcome and publishes it again
only if it was never marked sent; an aborted iteration is left alone."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from schemas import Event
from services.common import faults
from services.common.iteration import Fact, Iteration, Result, Stage, fact_key
from services.common.wiring import Ports

log = logging.getLogger(__name__)
Work = Callable[[Iteration], Awaitable[Sequence[Event]]]
Effect = Callable[[Fact], Awaitable[None]]


@dataclass(frozen=True)
class StageSpec:
    service: str  # also the `producer` of its events and the prefix of its fault points
    needs: Stage  # where the iteration must stand for this stage to act
    records: tuple[Stage, ...]  # the facts this stage may record


async def run_stage(
    event: Event, spec: StageSpec, ports: Ports, *, work: Work, effect: Effect | None = None
) -> str:
    """Returns what happened, in one word, for the metrics."""
    seen = await ports.ledger.record([event], sent=True)
    it = seen.after
    if seen.result is Result.DUPLICATE and not it.facts[fact_key(event)].sent:
        await ports.ledger.mark_sent(it.iteration_id, fact_key(event))  # it reached us: sent
    mine = _mine(it, spec)
    if mine is not None:
        return await _finish(it, mine, ports, spec, effect) if not mine.sent else "duplicate"
    if it.stage is Stage.ABORTED:
        log.info("%s: %s was aborted; nothing to do", spec.service, it.iteration_id)
        return "aborted"
    if it.stage is not spec.needs:
        log.info("%s: %s is %s; not acting", spec.service, it.iteration_id, it.stage)
        return "skipped"
    recorded = await ports.ledger.record(await work(it), sent=False)
    if recorded.result is Result.REFUSED:
        log.warning("%s: outcome refused: %s", spec.service, recorded.reason)
        return "refused"
    fact = _mine(recorded.after, spec)
    assert fact is not None
    return await _finish(recorded.after, fact, ports, spec, effect)


def _mine(it: Iteration, spec: StageSpec) -> Fact | None:
    for stage in spec.records:
        fact = it.fact(stage)
        if fact is not None and fact.event.producer == spec.service:
            return fact
    return None


async def _finish(
    it: Iteration, fact: Fact, ports: Ports, spec: StageSpec, effect: Effect | None
) -> str:
    """Apply the recorded outcome's effect (idempotent), publish it, mark it sent."""
    if effect is not None:
        await effect(fact)
    for event in fact.events:
        await ports.publish(event)
    faults.point(f"{spec.service}.after_publish")
    await ports.ledger.mark_sent(it.iteration_id, fact_key(fact.event))
    return "done"
