"""The simulator's ground truth: one CSV row per part, which never enters Kafka."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from schemas import ImageSubmitted
from yieldloop.sources import Item

TRUTH_FIELDS = ("item_id", "sha256", "label", "drifted", "defect", "submitted_at")


@dataclass(frozen=True)
class TruthRow:
    item_id: str
    sha256: str
    label: str | None
    drifted: bool
    defect: str | None
    submitted_at: datetime


@contextmanager
def truth_log(path: Path | None) -> Iterator[Callable[[Item, ImageSubmitted], None]]:
    """Records each submitted item's ground truth; flushed per row so a reader can follow."""
    if path is None:
        yield lambda item, event: None
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(TRUTH_FIELDS)

        def record(item: Item, event: ImageSubmitted) -> None:
            writer.writerow(
                [
                    item.item_id,
                    event.image.sha256,
                    item.label or "",
                    "true" if item.drifted else "false",
                    item.defect or "",
                    event.occurred_at.isoformat(),
                ]
            )
            out.flush()

        yield record


def read_truth(path: Path) -> list[TruthRow]:
    with path.open(newline="") as file:
        return [
            TruthRow(
                row["item_id"],
                row["sha256"],
                row["label"] or None,
                row["drifted"] == "true",
                row["defect"] or None,
                datetime.fromisoformat(row["submitted_at"]),
            )
            for row in csv.DictReader(file)
        ]
