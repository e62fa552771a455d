"""The gatekeeper: prove the challenger better than the champion, then promote or refuse it."""

from __future__ import annotations

import asyncio
import logging

from schemas import AlertRaised, ModelApproved, ModelCandidate, ModelRejected
from schemas.datasets import DatasetManifest, ManifestEntry, Split
from services.common import models
from services.common.models import LoadedModel
from services.common.registry import CHAMPION, PREVIOUS, ModelNotFound, promote
from services.common.store import get_model
from services.gatekeeper.bootstrap import Gatekeeper
from services.gatekeeper.domain import Decision, Scores, decide, score

PRODUCER = "gatekeeper"
log = logging.getLogger(__name__)


async def model_candidate(event: ModelCandidate, g: Gatekeeper) -> None:
    key = f"gate:{event.model_name}:{event.version}"
    if await g.coordination.is_done(key):
        return
    decision, previous = await asyncio.to_thread(judge, event, g)
    same = event.model_dump(include={"iteration_id", "line_id", "model_name", "version"})
    if decision.approved:
        await g.publish(
            ModelApproved(
                producer=PRODUCER,
                **event.caused(),
                **same,
                scores=decision.scores,
                previous_version=previous,
            )
        )
    else:
        await g.publish(
            ModelRejected(
                producer=PRODUCER,
                **event.caused(),
                **same,
                scores=decision.scores,
                reasons=list(decision.reasons),
            )
        )
        await g.publish(
            AlertRaised(
                producer=PRODUCER,
                **event.caused(),
                severity="warning",
                summary=f"{event.model_name} v{event.version} refused: "
                + "; ".join(decision.reasons),
                iteration_id=event.iteration_id,
                line_id=event.line_id,
                details={"scores": decision.scores, "reasons": list(decision.reasons)},
            )
        )
    await g.coordination.mark_done(key)


async def alert_raised(event: AlertRaised, g: Gatekeeper) -> None:
    """Notifications: every alert reaches the operator's log."""
    log.warning("ALERT [%s] %s", event.severity, event.summary)


def judge(event: ModelCandidate, g: Gatekeeper) -> tuple[Decision, str | None]:
    """Score both models on the holdout and the golden set; promote the challenger if it wins."""
    champion = models.load_alias(g.registry, g.model_name, CHAMPION)
    if champion.version.version == event.version:  # promoted just before a crash: finish the job
        before = g.registry.by_alias(g.model_name, PREVIOUS)
        return Decision(
            True, ("promoted before a restart",), {}
        ), before.version if before else None
    challenger = models.load(g.registry, g.registry.get(event.model_name, event.version))
    holdout = get_model(g.store, event.manifest_uri, DatasetManifest).split(Split.HOLDOUT)
    golden = golden_set(champion, g)
    policy = g.config.policy()
    decision = decide(
        champion=scores(champion, holdout, golden, g),
        challenger=scores(challenger, holdout, golden, g),
        policy=policy,
    )
    record(event, decision, g)
    previous = promote(g.registry, g.model_name, event.version) if decision.approved else None
    return decision, previous


def golden_set(champion: LoadedModel, g: Gatekeeper) -> list[ManifestEntry]:
    uri = champion.version.tags.get("golden_manifest_uri")
    if not uri:
        raise ModelNotFound(f"{g.model_name} v{champion.version.version} names no golden set")
    return get_model(g.store, uri, DatasetManifest).split(Split.GOLDEN)


def scores(
    model: LoadedModel, holdout: list[ManifestEntry], golden: list[ManifestEntry], g: Gatekeeper
) -> Scores:
    def predicted(entries: list[ManifestEntry]) -> list[str]:
        return model.labels(models.fetch_images(g.store, [models.ref(e) for e in entries]))

    return score(
        [e.label for e in holdout],
        predicted(holdout),
        [e.label for e in golden],
        predicted(golden),
        policy=g.config.policy(),
        classes=model.version.classes,
    )


def record(event: ModelCandidate, decision: Decision, g: Gatekeeper) -> None:
    run_id = g.tracking.start_run(
        f"gate-{event.iteration_id}",
        tags={
            "iteration_id": event.iteration_id,
            "stage": "gate",
            "version": event.version,
            "decision": "approved" if decision.approved else "rejected",
        },
    )
    for key, value in decision.scores.items():
        g.tracking.log_metric(run_id, key, value)
    g.tracking.log_text(run_id, "\n".join(decision.reasons), "decision.txt")
    g.tracking.end_run(run_id)
