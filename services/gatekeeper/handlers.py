"""The gatekeeper: prove the challenger better than the champion, then promote or refuse it.
One decision per iteration: it is recorded before the alias moves, so a timed-out iteration can
never be promoted, and a redelivered candidate gets the recorded decision, not a second one."""

from __future__ import annotations

import asyncio
import logging

from schemas import AlertRaised, Event, ModelApproved, ModelCandidate, ModelRejected
from schemas.datasets import DatasetManifest, ManifestEntry, Split
from services.common import faults, models
from services.common.iteration import Fact, Iteration, Stage
from services.common.models import LoadedModel
from services.common.registry import CHAMPION, ModelNotFound, promote
from services.common.stage import StageSpec, run_stage
from services.common.store import get_model
from services.common.tracking import close_interrupted
from services.gatekeeper.bootstrap import Gatekeeper
from services.gatekeeper.domain import Decision, Scores, decide, score, stale_base

PRODUCER = "gatekeeper"
STAGE = StageSpec(PRODUCER, needs=Stage.TRAINED, records=(Stage.DECIDED,))
log = logging.getLogger(__name__)


async def model_candidate(event: ModelCandidate, g: Gatekeeper) -> str:
    async def decision(_: Iteration) -> list[Event]:
        decided, previous = await asyncio.to_thread(judge, event, g)
        return outcome(event, decided, previous)

    async def carry_out(fact: Fact) -> None:
        if isinstance(fact.event, ModelApproved):
            await asyncio.to_thread(promote, g.registry, g.model_name, fact.event.version)
        faults.point("gatekeeper.after_effect")

    return await run_stage(event, STAGE, g, work=decision, effect=carry_out)


def outcome(event: ModelCandidate, decision: Decision, previous: str | None) -> list[Event]:
    same = event.model_dump(include={"iteration_id", "line_id", "model_name", "version"})
    if decision.approved:
        return [
            ModelApproved(
                producer=PRODUCER,
                **event.caused(),
                **same,
                scores=decision.scores,
                reasons=list(decision.reasons),
                previous_version=previous,
            )
        ]
    return [
        ModelRejected(
            producer=PRODUCER,
            **event.caused(),
            **same,
            scores=decision.scores,
            reasons=list(decision.reasons),
        ),
        AlertRaised(
            producer=PRODUCER,
            **event.caused(),
            severity="warning",
            summary=f"{event.model_name} v{event.version} refused: " + "; ".join(decision.reasons),
            iteration_id=event.iteration_id,
            line_id=event.line_id,
            details={"scores": decision.scores, "reasons": list(decision.reasons)},
        ),
    ]


async def alert_raised(event: AlertRaised, g: Gatekeeper) -> None:
    """Notifications: every alert reaches the operator's log."""
    log.warning("ALERT [%s] %s", event.severity, event.summary)


def judge(event: ModelCandidate, g: Gatekeeper) -> tuple[Decision, str | None]:
    """Score both models on the holdout and the golden set; the champion's version is returned
    as the one the challenger would replace."""
    serving = models.champion(g.registry, g.model_name, CHAMPION)
    refusal = stale_base(event.base_version, serving.version)
    if refusal is not None:
        return refusal, serving.version
    champion = models.load(g.registry, serving)
    challenger = models.load(g.registry, g.registry.get(event.model_name, event.version))
    holdout = get_model(g.store, event.manifest_uri, DatasetManifest).split(Split.HOLDOUT)
    golden = golden_set(champion, g)
    decision = decide(
        champion=scores(champion, holdout, golden, g),
        challenger=scores(challenger, holdout, golden, g),
        policy=g.config.policy(),
    )
    record(event, decision, g)
    return decision, champion.version.version


def golden_set(champion: LoadedModel, g: Gatekeeper) -> list[ManifestEntry]:
    uri = champion.version.tags.get("golden_manifest_uri")
    if not uri:
        raise ModelNotFound(f"{g.model_name} v{champion.version.version} names no golden set")
    return get_model(g.store, uri, DatasetManifest).split(Split.GOLDEN)


def scores(
    model: LoadedModel, holdout: list[ManifestEntry], golden: list[ManifestEntry], g: Gatekeeper
) -> Scores:
    def predicted(entries: list[ManifestEntry]) -> list[str]:
        refs = [models.ref(e) for e in entries]
        return model.labels(models.fetch_images(g.store, refs, size=model.image_size))

    return score(
        [e.label for e in holdout],
        predicted(holdout),
        [e.label for e in golden],
        predicted(golden),
        policy=g.config.policy(),
        classes=model.version.classes,
    )


def record(event: ModelCandidate, decision: Decision, g: Gatekeeper) -> None:
    tags = {"iteration_id": event.iteration_id, "stage": "gate"}
    close_interrupted(g.tracking, tags)
    run_id = g.tracking.start_run(
        f"gate-{event.iteration_id}",
        tags={
            **tags,
            "version": event.version,
            "decision": "approved" if decision.approved else "rejected",
        },
    )
    for key, value in decision.scores.items():
        g.tracking.log_metric(run_id, key, value)
    g.tracking.log_text(run_id, "\n".join(decision.reasons), "decision.txt")
    g.tracking.end_run(run_id)
