"""The efficacy result as one Markdown table, a row per drift and a line for the quiet line."""

from __future__ import annotations

from collections.abc import Callable, Mapping

Cell = Callable[[object], str]


def _pct(value: object) -> str:
    return f"{value:.1%}" if isinstance(value, float) else "-"


def _ratio(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "-"


def _secs(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, float | int) else "-"


def _plain(value: object) -> str:
    return "-" if value is None else str(value)


def _right(value: object) -> str:
    return {True: "yes", False: "NO"}.get(value, "-") if isinstance(value, bool) else "-"


def _referees(value: object) -> str:
    if not isinstance(value, list):
        return "-"
    return " / ".join(_pct(v) for v in value)


COLUMNS: tuple[tuple[str, str, Cell], ...] = (
    ("drift", "drift", _plain),
    ("signal", "signal", _plain),
    ("s to trigger", "seconds_to_trigger", _secs),
    ("candidates", "candidates", _plain),
    ("kept", "kept", _plain),
    ("precision", "pseudo_label_precision", _pct),
    ("referees (B1 / B2)", "referee_accuracy", _referees),
    ("acc before", "accuracy_before", _pct),
    ("acc under", "accuracy_under", _pct),
    ("acc after", "accuracy_after", _pct),
    ("oracle", "oracle_accuracy", _pct),
    ("after/oracle", "after_over_oracle", _ratio),
    ("decision", "decision", _plain),
    ("right", "decision_right", _right),
)


def table(result: Mapping[str, object]) -> str:
    """Markdown: one row per drift; the quiet line and every iteration's reason below it."""
    head = "| " + " | ".join(title for title, _, _ in COLUMNS) + " |"
    rule = "|" + "|".join("---" for _ in COLUMNS) + "|"
    rows = result.get("rows", [])
    assert isinstance(rows, list)
    body = [
        "| " + " | ".join(show(row.get(key)) for _, key, show in COLUMNS) + " |" for row in rows
    ]
    quiet = result.get("no_drift", {})
    assert isinstance(quiet, dict)
    notes = [
        f"\nNo drift: {quiet.get('false_triggers')} triggers in {quiet.get('predictions')} "
        "predictions.",
        *(f"- {row['drift']}: {row['reason']}" for row in rows if row.get("reason")),
    ]
    return "\n".join([head, rule, *body, *notes])
