"""Where people acted: the reviews an iteration asked for and the labels given, and the
rollbacks, each with who did it, why, and every replica that swapped back. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from schemas import Event, LabelProvided, ModelDeployed, ModelRolledBack, ReviewRequested
from yieldloop.audit.sections import iso

Json = dict[str, Any]


def reviews(events: Sequence[Event]) -> Json:
    asked = [e for e in events if isinstance(e, ReviewRequested)]
    given = [e for e in events if isinstance(e, LabelProvided)]
    return {
        "requested": len(asked),
        "reasons": dict(Counter(e.reason for e in asked)),
        "labelled": [
            {
                "item": e.item,
                "label": e.label,
                "served_label": e.served_label,
                "reviewer": e.reviewer,
                "at": iso(e.occurred_at),
            }
            for e in given
        ],
    }


def rollbacks(events: Sequence[Event]) -> list[Json]:
    """Every rollback in time order, with the replicas that reported serving its version."""
    swaps: dict[str, list[ModelDeployed]] = {}
    for e in events:
        if isinstance(e, ModelDeployed) and e.iteration_id is None and e.correlation_id:
            swaps.setdefault(e.correlation_id, []).append(e)
    return [
        {
            "rollback_id": e.rollback_id,
            "at": iso(e.occurred_at),
            "actor": e.actor,
            "reason": e.reason,
            "from_version": e.from_version,
            "version": e.version,
            "deployments": [
                {"replica_id": d.replica_id, "version": d.version, "loaded_at": iso(d.loaded_at)}
                for d in swaps.get(e.rollback_id, [])
            ],
        }
        for e in events
        if isinstance(e, ModelRolledBack)
    ]


def table(found: Sequence[Json]) -> str:
    rows = [
        f"rollback {r['rollback_id']} at {r['at']} by {r['actor']}: v{r['from_version']} -> "
        f"v{r['version']} ({r['reason']}); swapped: "
        + (", ".join(d["replica_id"] for d in r["deployments"]) or "-")
        for r in found
    ]
    return "\n".join(rows)
