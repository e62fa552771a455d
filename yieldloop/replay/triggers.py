"""What the monitor decided, recorded or replayed: each trigger, on which line, at which of
the line's predictions; and whether a replay reproduced the record."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from schemas import Event, RetrainQueued, RetrainRequested
from yieldloop.audit.collect import LinePredictions
from yieldloop.audit.sections import fired

MONITOR = "monitor"


@dataclass(frozen=True)
class Trigger:
    line_id: str
    iteration_id: str
    kind: str  # "requested" opened an iteration; "queued" waited for the one holding the model
    prediction: int | None  # 1 = the line's first prediction read; None when opened from a queue
    at: str
    signal: str  # which signal fired: yield, mix, confidence or input


def triggers(events: Iterable[Event], lines: Mapping[str, LinePredictions]) -> list[Trigger]:
    found = []
    for e in events:
        if not isinstance(e, RetrainRequested | RetrainQueued) or e.producer != MONITOR:
            continue
        line = lines.get(e.line_id)
        cause = str(e.causation_id)
        index = line.ids.index(cause) + 1 if line is not None and cause in line.ids else None
        kind = "requested" if isinstance(e, RetrainRequested) else "queued"
        at = e.occurred_at.isoformat()
        found.append(Trigger(e.line_id, e.iteration_id, kind, index, at, fired(e)))
    return found


def compare(recorded: list[Trigger], replayed: list[Trigger]) -> dict[str, Any]:
    """Per line: iterations opened and the predictions that tipped it, then and now."""
    lines = sorted({t.line_id for t in [*recorded, *replayed]})
    per_line = {}
    for line in lines:
        then = [t for t in recorded if t.line_id == line]
        now = [t for t in replayed if t.line_id == line]
        before, after = _summary(then), _summary(now)
        per_line[line] = {"recorded": before, "replayed": after, "same": before == after}
    return {
        "reproduced": all(s["same"] for s in per_line.values()),
        "lines": per_line,
        "recorded": [asdict(t) for t in recorded],
        "replayed": [asdict(t) for t in replayed],
    }


def _summary(found: list[Trigger]) -> dict[str, Any]:
    return {
        "iterations": sum(t.kind == "requested" for t in found),
        "trigger_predictions": [t.prediction for t in found if t.prediction is not None],
        "signals": [t.signal for t in found],
    }


def table(result: Mapping[str, Any]) -> str:
    heads = (
        "line",
        "iterations then/now",
        "trigger prediction # then",
        "now",
        "signals then",
        "now",
        "same",
    )
    rows = [heads]
    for line, s in result["lines"].items():
        then, now = s["recorded"], s["replayed"]
        rows.append(
            (
                line,
                f"{then['iterations']}/{now['iterations']}",
                ", ".join(map(str, then["trigger_predictions"])) or "-",
                ", ".join(map(str, now["trigger_predictions"])) or "-",
                ", ".join(then["signals"]) or "-",
                ", ".join(now["signals"]) or "-",
                "yes" if s["same"] else "NO",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(heads))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
