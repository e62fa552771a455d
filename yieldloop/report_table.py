"""The demo report's summary as an aligned text table for the terminal."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from yieldloop.report_plot import when


def _pct(value: object) -> str:
    return f"{value:.1%}" if isinstance(value, float | int) else "-"


def _clock(value: object) -> str:
    at = when(value)
    return f"{at:%H:%M:%S} UTC" if at is not None else "-"


def _secs(value: object) -> str:
    return f"{value:.1f} s" if isinstance(value, float | int) else "-"


def _plain(value: object) -> str:
    return "-" if value is None else str(value)


ROWS: tuple[tuple[str, str, Callable[[object], str]], ...] = (
    ("line", "line_id", _plain),
    ("decision", "decision", _plain),
    ("champion before", "champion_before", _plain),
    ("champion after", "champion_after", _plain),
    ("drift started", "drift_started_at", _clock),
    ("retrain requested", "retrain_requested_at", _clock),
    ("new champion serving", "champion_serving_at", _clock),
    ("drift to serving", "seconds_drift_to_serving", _secs),
    ("samples selected", "selected_samples", _plain),
    ("pseudo-label precision", "pseudo_label_precision", _pct),
    ("accuracy before drift", "accuracy_before_drift", _pct),
    ("accuracy under drift", "accuracy_under_drift", _pct),
    ("accuracy after recovery", "accuracy_after_recovery", _pct),
    ("yield threshold", "yield_threshold", _pct),
    ("lowest reported yield", "lowest_reported_yield", _pct),
    ("yield after recovery", "yield_after_recovery", _pct),
    ("predictions", "predictions", _plain),
)


def summary_table(report: Mapping[str, object]) -> str:
    """The main figures as an aligned two-column table for the terminal."""
    width = max(len(label) for label, _, _ in ROWS)
    return "\n".join(f"{label:<{width}}  {show(report.get(key))}" for label, key, show in ROWS)
