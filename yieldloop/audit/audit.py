"""The audit as a whole: read the topics, assemble the stories, add MLflow's side, verify."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from services.common.history import EVER, Window
from services.common.settings import CommonSettings
from services.common.store import LocalImageStore
from yieldloop.audit import lineage
from yieldloop.audit.collect import Collected, collect
from yieldloop.audit.enrich import enrich
from yieldloop.audit.tracked import Tracked
from yieldloop.audit.verify import Checker, Finding

Json = dict[str, Any]


@dataclass(frozen=True)
class Scope:
    """Which iterations to report: a time window of the topics, one iteration, one line."""

    window: Window = EVER
    iteration_id: str | None = None
    line_id: str | None = None

    def keeps(self, story: lineage.Story) -> bool:
        return self.iteration_id in (None, story.iteration_id) and self.line_id in (
            None,
            story.line_id,
        )


@dataclass
class Audit:
    got: Collected
    stories: list[Json]
    newest_approved: str | None = None  # of every iteration read, in scope or not
    findings: dict[str, list[Finding]] = field(default_factory=dict)
    aliases: dict[str, str | None] = field(default_factory=dict)

    @property
    def verified(self) -> bool:
        return all(f.ok for found in self.findings.values() for f in found)


async def read(settings: CommonSettings, scope: Scope = Scope()) -> Audit:
    """The stories from Kafka alone (what the bench measures)."""
    got = await collect(settings, window=scope.window)
    every, lookup = lineage.stories(got), lineage.Lookup.of(got.events)
    kept = [lineage.to_json(s, got, lookup) for s in every if scope.keeps(s)]
    return Audit(got, kept, newest_approved=_newest_approved(every))


def complete(audit: Audit, settings: CommonSettings, *, verify: bool) -> Audit:
    """MLflow's side of each story, and the links checked when asked."""
    tracked, name = Tracked.of(settings), settings.mlflow.model_name
    audit.stories = [enrich(s, tracked, model_name=name) for s in audit.stories]
    audit.aliases = tracked.aliases(name)
    if verify:
        checker = Checker(tracked, LocalImageStore(settings.store_root), name)
        newest = audit.newest_approved
        audit.findings = {
            s["iteration_id"]: checker.check(s, newest_approved=s["iteration_id"] == newest)
            for s in audit.stories
        }
    return audit


def _newest_approved(stories: Sequence[lineage.Story]) -> str | None:
    approved = [s for s in stories if s.saga is not None and s.saga.approved]
    return max(approved, key=lambda s: s.opened_at).iteration_id if approved else None


def to_json(audit: Audit) -> Json:
    got = audit.got
    return {
        "read": {
            "records": got.records,
            "events": len(got.events),
            "predictions": sum(len(line) for line in got.lines.values()),
            "republished": sum(got.repeats.values()),
            "unreadable": got.unreadable,
            "dead_letters": len(got.dead_letters),
        },
        "aliases": audit.aliases,
        "iterations": audit.stories,
        "verify": {k: [f.__dict__ for f in v] for k, v in audit.findings.items()},
    }
