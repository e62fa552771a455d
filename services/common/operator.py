"""What an operator may do to the champion by hand: roll it back, or deploy a version. Both
move the registry's aliases and return the event that tells every replica; the caller publishes
it. Shared by the admin REST routes and the `yieldloop rollback` / `deploy` commands."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from schemas import ModelApproved, ModelRolledBack
from services.common.registry import (
    CHAMPION,
    PREVIOUS,
    WITHDRAWN,
    ModelRegistry,
    ModelVersion,
    promote,
)

PRODUCER = "operator"


class Refused(ValueError):
    """The move makes no sense where the aliases stand; the message says why."""


@dataclass(frozen=True)
class Move:
    to: str
    away_from: str


def plan_rollback(*, champion: str | None, previous: str | None, to: str | None) -> Move:
    """Back to `previous`, or to the version named. A rollback clears `previous`, so a second
    one goes nowhere unless a version is named: never two versions back by accident."""
    if champion is None:
        raise Refused("there is no champion to roll back")
    target = to or previous
    if target is None:
        raise Refused(
            f"v{champion} serves and no previous version is set (was it rolled back "
            "already?); name the version to go back to"
        )
    if target == champion:
        raise Refused(f"v{target} is the champion already")
    return Move(to=target, away_from=champion)


def rollback(
    registry: ModelRegistry, name: str, *, reason: str, actor: str, to: str | None = None
) -> ModelRolledBack:
    """Move `champion` back; the version left is withdrawn so no late approval brings it back."""
    if not reason.strip():
        raise Refused("a rollback needs a reason")
    move = plan_rollback(
        champion=_version(registry.by_alias(name, CHAMPION)),
        previous=_version(registry.by_alias(name, PREVIOUS)),
        to=to,
    )
    registry.get(name, move.to)  # ModelNotFound for a version that does not exist
    rollback_id = f"rollback-{uuid.uuid4().hex[:12]}"
    registry.set_tag(name, move.away_from, WITHDRAWN, f"{rollback_id} by {actor}: {reason}")
    registry.set_tag(name, move.to, WITHDRAWN, None)
    registry.set_alias(name, CHAMPION, move.to)
    registry.delete_alias(name, PREVIOUS)
    return ModelRolledBack(
        producer=PRODUCER,
        correlation_id=rollback_id,
        rollback_id=rollback_id,
        model_name=name,
        version=move.to,
        from_version=move.away_from,
        reason=reason,
        actor=actor,
    )


def deploy(
    registry: ModelRegistry, name: str, version: str, *, reason: str, actor: str
) -> ModelApproved:
    """Make a registered version the champion by hand. Replicas only move forward on an
    approval, so an older version is refused here: that is a rollback."""
    if not reason.strip():
        raise Refused("a deployment needs a reason")
    target = registry.get(name, version)
    serving = _version(registry.by_alias(name, CHAMPION))
    if serving == version:
        raise Refused(f"v{version} is the champion already")
    if serving is not None and int(version) < int(serving):
        raise Refused(f"v{version} is older than the champion v{serving}: roll back to it")
    registry.set_tag(name, version, WITHDRAWN, None)
    previous = promote(registry, name, target.version)
    deployment = f"deploy-{uuid.uuid4().hex[:12]}"
    return ModelApproved(
        producer=PRODUCER,
        correlation_id=deployment,
        iteration_id=deployment,
        line_id=PRODUCER,
        model_name=name,
        version=version,
        previous_version=previous,
        scores={},
        reasons=[f"deployed by hand by {actor}: {reason}"],
    )


def _version(mv: ModelVersion | None) -> str | None:
    return None if mv is None else mv.version
