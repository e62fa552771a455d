"""How an efficacy row judges the loop's decision by the truth, and how the table reads."""

from __future__ import annotations

import json

import pytest

from yieldloop.efficacy_row import finish
from yieldloop.efficacy_table import table

ROW = {
    "drift": "washout",
    "signal": "input",
    "seconds_to_trigger": 24.5,
    "candidates": 600,
    "kept": 580,
    "pseudo_label_precision": 0.99,
    "accuracy_before": 0.99,
    "accuracy_under": 0.88,
    "accuracy_after": 0.97,
    "oracle_accuracy": 0.98,
    "champion_accuracy": 0.88,
    "candidate_accuracy": 0.97,
    "decision": "approved",
    "reason": None,
}


@pytest.mark.parametrize(
    ("decision", "candidate", "right"),
    [
        ("approved", 0.97, True),  # better than the champion's 0.88: approving was right
        ("approved", 0.80, False),  # worse: the gate let a worse model through
        ("rejected", 0.80, True),
        ("rejected", 0.97, False),  # better, yet refused
        ("aborted", 0.80, True),  # the loop refused to train a model that would be worse
        ("aborted", None, True),  # too few labels survived to train anything
        ("none", 0.97, None),  # no decision: nothing to judge
    ],
)
def test_a_decision_is_right_when_it_follows_the_truth(
    decision: str, candidate: float | None, right: bool | None
) -> None:
    judged = finish({**ROW, "decision": decision, "candidate_accuracy": candidate})

    assert judged["decision_right"] is right


def test_after_over_oracle_is_the_ratio_of_the_two_accuracies() -> None:
    assert finish(ROW)["after_over_oracle"] == pytest.approx(0.97 / 0.98)
    assert finish({**ROW, "accuracy_after": None})["after_over_oracle"] is None


def test_the_table_has_a_row_per_drift_and_the_quiet_line_below() -> None:
    out_of_depth = {
        **ROW,
        "drift": "stuck_pixels",
        "signal": "yield",
        "kept": 0,
        "pseudo_label_precision": None,
        "decision": "aborted",
        "reason": "referees out of their depth: B1 labels 97% of them NG",
        "candidate_accuracy": None,
    }
    result = {
        "rows": [finish(ROW), finish(out_of_depth)],
        "no_drift": {"predictions": 10_000, "false_triggers": 0},
    }

    lines = table(json.loads(json.dumps(result))).splitlines()

    assert lines[0].startswith("| drift | signal | s to trigger | candidates | kept |")
    assert lines[2].startswith("| washout | input | 24.5 | 600 | 580 | 99.0% |")
    assert lines[2].endswith("| 0.990 | approved | yes |")
    assert lines[3].startswith("| stuck_pixels | yield | 24.5 | 600 | 0 | - |")
    assert "No drift: 0 triggers in 10000 predictions." in lines
    assert lines[-1] == "- stuck_pixels: referees out of their depth: B1 labels 97% of them NG"
