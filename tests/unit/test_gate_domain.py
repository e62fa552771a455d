"""The promotion gate: proven better on the recent holdout, no worse on the golden set."""

from __future__ import annotations

import pytest

from services.gatekeeper.domain import (
    GatePolicy,
    Scores,
    accuracy,
    balanced_accuracy,
    decide,
    recall_by_class,
    score,
)

POLICY = GatePolicy()  # accuracy, +0.01 on holdout, golden may drop 0.03, NG recall >= 0.9
CHAMPION = Scores(holdout=0.15, golden=0.989, golden_recall={"OK": 0.99, "NG": 0.97})


def challenger(holdout: float = 0.947, golden: float = 0.968, ng_recall: float = 0.95) -> Scores:
    return Scores(holdout=holdout, golden=golden, golden_recall={"OK": 0.97, "NG": ng_recall})


def test_accuracy_and_recall_per_class() -> None:
    truth = ["OK", "OK", "OK", "NG"]
    predicted = ["OK", "OK", "NG", "OK"]

    assert accuracy(truth, predicted) == 0.5
    assert recall_by_class(truth, predicted, ["OK", "NG", "SCRATCH"]) == {"OK": 2 / 3, "NG": 0.0}
    assert balanced_accuracy(truth, predicted) == pytest.approx(1 / 3)


def test_scoring_unpaired_or_empty_labels_is_refused() -> None:
    with pytest.raises(ValueError):
        accuracy(["OK"], [])
    with pytest.raises(ValueError):
        accuracy([], [])


def test_score_measures_both_sets_with_the_policy_metric() -> None:
    truth = ["OK"] * 9 + ["NG"]
    predicted = ["OK"] * 10
    balanced = GatePolicy(metric="balanced_accuracy")

    by_accuracy = score(truth, predicted, truth, predicted, policy=POLICY, classes=["OK", "NG"])
    by_balance = score(truth, predicted, truth, predicted, policy=balanced, classes=["OK", "NG"])

    assert (by_accuracy.holdout, by_accuracy.golden) == (0.9, 0.9)
    assert (by_balance.holdout, by_balance.golden) == (0.5, 0.5)
    assert by_balance.golden_recall == {"OK": 1.0, "NG": 0.0}


def test_a_model_that_repairs_the_line_is_approved_despite_a_small_golden_dip() -> None:
    decision = decide(champion=CHAMPION, challenger=challenger(), policy=POLICY)

    assert decision.approved
    [summary] = decision.reasons
    assert "0.947" in summary and "0.150" in summary


def test_a_regression_on_the_golden_set_beyond_the_margin_is_refused() -> None:
    decision = decide(champion=CHAMPION, challenger=challenger(golden=0.95), policy=POLICY)

    assert not decision.approved
    assert decision.reasons == ("golden accuracy 0.950 is more than 0.03 below champion's 0.989",)


def test_an_improvement_below_the_minimum_is_refused() -> None:
    decision = decide(champion=CHAMPION, challenger=challenger(holdout=0.155), policy=POLICY)

    assert not decision.approved
    assert decision.reasons == ("holdout accuracy 0.155 is not 0.01 above champion's 0.150",)


def test_an_improvement_of_exactly_the_minimum_is_enough() -> None:
    champion = Scores(holdout=0.605, golden=0.9, golden_recall={"NG": 0.95})
    exact = Scores(holdout=0.615, golden=0.9, golden_recall={"NG": 0.95})

    assert decide(champion=champion, challenger=exact, policy=POLICY).approved


def test_more_defect_escapes_than_the_recall_floor_allows_are_refused() -> None:
    decision = decide(champion=CHAMPION, challenger=challenger(ng_recall=0.85), policy=POLICY)

    assert not decision.approved
    assert decision.reasons == ("golden recall of NG 0.850 is below the floor 0.9",)


def test_a_floor_that_cannot_be_checked_refuses_rather_than_passes() -> None:
    unchecked = Scores(holdout=0.9, golden=0.99, golden_recall={"OK": 0.99})

    decision = decide(champion=CHAMPION, challenger=unchecked, policy=POLICY)

    assert decision.reasons == ("golden set has no NG samples to check the 0.9 recall floor",)


def test_every_failing_rule_is_listed() -> None:
    bad = challenger(holdout=0.1, golden=0.5, ng_recall=0.2)

    decision = decide(champion=CHAMPION, challenger=bad, policy=POLICY)

    assert not decision.approved
    assert [reason.split()[0:2] for reason in decision.reasons] == [
        ["holdout", "accuracy"],
        ["golden", "accuracy"],
        ["golden", "recall"],
    ]


def test_the_decision_carries_flat_scores_for_the_event() -> None:
    decision = decide(champion=CHAMPION, challenger=challenger(), policy=POLICY)

    assert decision.scores == {
        "champion_holdout": 0.15,
        "challenger_holdout": 0.947,
        "champion_golden": 0.989,
        "challenger_golden": 0.968,
        "champion_recall_OK": 0.99,
        "champion_recall_NG": 0.97,
        "challenger_recall_OK": 0.97,
        "challenger_recall_NG": 0.95,
    }


def test_an_unknown_metric_is_refused() -> None:
    with pytest.raises(ValueError, match="f1"):
        GatePolicy(metric="f1")  # type: ignore[arg-type]
