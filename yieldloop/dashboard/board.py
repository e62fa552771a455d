"""What the dashboard shows, kept up to date from the records it is handed. Pure: no Kafka,
HTTP or MLflow here."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from schemas import YieldReported
from services.common.kafka import Record
from yieldloop.audit import lineage
from yieldloop.audit.collect import Collector
from yieldloop.audit.table import row

Json = dict[str, Any]


@dataclass
class Board:
    reports_per_line: int
    pipeline: Collector = field(default_factory=Collector)
    lines: dict[str, deque[YieldReported]] = field(default_factory=dict)
    models: list[Json] = field(default_factory=list)
    records: int = 0

    def add(self, records: Iterable[Record]) -> None:
        batch = list(records)
        self.records += len(batch)
        before = len(self.pipeline.out.events)
        self.pipeline.add(batch)
        for event in self.pipeline.out.events[before:]:
            if isinstance(event, YieldReported):
                line = self.lines.setdefault(event.line_id, deque(maxlen=self.reports_per_line))
                line.append(event)

    def iterations(self) -> list[Json]:
        """Newest first: id, line, stage, trigger, kept, version, decision, deployed."""
        got = self.pipeline.collected()
        lookup = lineage.Lookup.of(got.events)
        found = [lineage.to_json(s, got, lookup) for s in lineage.stories(got)]
        keys = ("iteration_id", "line_id", "stage", "trigger", "kept", "version", "decision")
        return [
            {**dict(zip(keys, row(s), strict=False)), "deployed": row(s)[-1], "at": s["opened_at"]}
            for s in reversed(found)
        ]

    def story(self, iteration_id: str) -> lineage.Story | None:
        got = self.pipeline.collected()
        return next((s for s in lineage.stories(got) if s.iteration_id == iteration_id), None)

    def dead_letters(self) -> list[Json]:
        return [
            {
                "at": d.at.isoformat(),
                "origin": d.origin,
                "event_type": d.event_type,
                "error": d.error,
            }
            for d in reversed(self.pipeline.out.dead_letters)
        ]
