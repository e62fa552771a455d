"""The audit as an aligned table for the terminal: one row per iteration."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Json = dict[str, Any]
HEADS = ("iteration", "line", "stage", "trigger", "kept", "version", "decision", "deployed")


def row(s: Json) -> tuple[str, ...]:
    t, d, tr, dc = s["trigger"], s["dataset"], s["training"], s["decision"]
    return (
        s["iteration_id"],
        s["line_id"],
        s["stage"] or "-",
        _trigger(t),
        f"{d['kept']}/{d['candidates']}" if d else "-",
        f"v{tr['version']} (run {tr['mlflow_run_id'][:8]})" if tr else "-",
        ("approved" if dc["approved"] else "rejected") if dc else "-",
        ", ".join(f"{x['replica_id']}@{x['loaded_at'][11:19]}" for x in s["deployments"]) or "-",
    )


def _trigger(t: Json | None) -> str:
    if not t:
        return "-"
    if t["signal"] == "yield":
        return f"yield {t['yield_rate']:.2f} < {t['threshold']:.2f}"
    return f"{t['signal']} (yield {t['yield_rate']:.2f})"


def table(stories: Sequence[Json]) -> str:
    rows = [HEADS, *(row(s) for s in stories)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADS))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
