"""The three selection rules side by side on the same committee votes, and the check that keeps
the loop from training on referees who are out of their depth."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from services.curator.domain import DepthPolicy, RefereeView, depth
from services.curator.selection import Candidate, Rule, Selection, SelectionPolicy, Vote, select


def policy(rule: Rule, **changes: float) -> SelectionPolicy:
    settings = {"confidence_threshold": 0.7, "margin_share": 0.5, "max_class_share": 0.9}
    return SelectionPolicy(rule=rule, **(settings | changes))


def images(n: int, prefix: str) -> list[Candidate]:
    return [
        Candidate(hashlib.sha256(f"{prefix}-{i}".encode()).hexdigest(), f"store://{prefix}-{i}")
        for i in range(n)
    ]


def kept(selection: Selection) -> Counter[str]:
    return Counter(item.label for item in selection.kept)


def unsure_defects() -> tuple[list[Candidate], list[Vote]]:
    """A drift the referees half see: 80 clean parts they are sure of, 20 defects they agree on
    but with little confidence (0.60 to 0.79)."""
    clean, defects = images(80, "ok"), images(20, "ng")
    votes = [Vote("OK", 0.99)] * 80 + [Vote("NG", 0.60 + 0.01 * i) for i in range(20)]
    return clean + defects, votes


def test_the_seed_rule_drops_the_defects_the_referees_are_unsure_of() -> None:
    candidates, votes = unsure_defects()

    selection = select(candidates, votes, votes, policy=policy(Rule.AGREEMENT_CONFIDENCE))

    assert kept(selection) == {"OK": 80, "NG": 10}  # only NG at 0.70 and above
    assert selection.figures["kept_NG"] == 10 and selection.figures["agreed"] == 100


def test_the_margin_rule_keeps_each_class_in_proportion_with_its_surest_images() -> None:
    candidates, votes = unsure_defects()

    selection = select(candidates, votes, votes, policy=policy(Rule.MARGIN, margin_share=0.5))

    assert kept(selection) == {"OK": 40, "NG": 10}
    surest_ng = {c.sha256 for c in candidates[90:]}  # confidence 0.70 .. 0.79
    assert {item.sha256 for item in selection.kept if item.label == "NG"} == surest_ng
    assert selection.figures["margin_cut_NG"] == pytest.approx(2 * 0.70 - 1)


def test_class_balanced_stops_one_label_from_flooding_the_dataset() -> None:
    """A drift that makes almost everything look OK: 95 confident OK labels, 5 NG."""
    candidates = images(100, "part")
    votes = [Vote("OK", 0.80 + 0.002 * i) for i in range(95)] + [Vote("NG", 0.95)] * 5

    balanced = select(candidates, votes, votes, policy=policy(Rule.CLASS_BALANCED))
    seed = select(candidates, votes, votes, policy=policy(Rule.AGREEMENT_CONFIDENCE))

    assert kept(seed) == {"OK": 95, "NG": 5}
    assert kept(balanced) == {"OK": 45, "NG": 5}  # OK at most 90% of what is kept
    assert balanced.figures["capped"] == 50
    least_sure_ok = {c.sha256 for c in candidates[:50]}
    assert least_sure_ok.isdisjoint(item.sha256 for item in balanced.kept)


def test_class_balanced_leaves_a_line_with_its_usual_mix_alone() -> None:
    candidates = images(100, "usual")
    votes = [Vote("OK", 0.95)] * 85 + [Vote("NG", 0.95)] * 15

    selection = select(candidates, votes, votes, policy=policy(Rule.CLASS_BALANCED))

    assert kept(selection) == {"OK": 85, "NG": 15} and selection.figures["capped"] == 0


def test_every_rule_keeps_only_what_both_referees_label_alike() -> None:
    candidates = images(3, "x")
    b1 = [Vote("OK", 0.99), Vote("NG", 0.99), Vote("OK", 0.99)]
    b2 = [Vote("OK", 0.99), Vote("OK", 0.99), Vote("OK", 0.99)]

    for rule in Rule:
        selection = select(candidates, b1, b2, policy=policy(rule))
        assert selection.disagreements == [candidates[1]]
        assert candidates[1].sha256 not in {item.sha256 for item in selection.kept}


DEPTH = DepthPolicy(max_confidence_drop=0.1, max_balance_shift=0.05, balance_alpha=0.001)
GOLDEN = ["OK"] * 85 + ["NG"] * 15


def view(name: str, recent: list[Vote]) -> RefereeView:
    golden = [Vote(label, 0.97) for label in GOLDEN]
    return RefereeView(name, recent, golden)


def test_referees_that_see_the_line_as_the_golden_set_are_trusted() -> None:
    recent = [Vote("OK", 0.95)] * 490 + [Vote("NG", 0.93)] * 110  # 18% NG

    judged = depth([view("B1", recent), view("B2", recent)], GOLDEN, DEPTH)

    assert not judged.out and judged.reasons == []
    assert judged.figures["B1_balance_chance"] > 0.1


def test_a_referee_whose_confidence_falls_with_the_shift_is_out_of_its_depth() -> None:
    steady = [Vote("OK", 0.95)] * 85 + [Vote("NG", 0.95)] * 15
    shaken = [Vote("OK", 0.76)] * 85 + [Vote("NG", 0.76)] * 15

    judged = depth([view("B1", steady), view("B2", shaken)], GOLDEN, DEPTH)

    assert judged.out
    assert judged.reasons == [
        "B2's mean confidence fell from 0.970 on the golden set to 0.760 on these images"
    ]


def test_referees_that_pass_every_part_contradict_the_golden_balance() -> None:
    blind = [Vote("OK", 0.99)] * 600

    judged = depth([view("B1", blind), view("B2", blind)], GOLDEN, DEPTH)

    assert judged.out and len(judged.reasons) == 2
    assert judged.reasons[0] == "B1 labels 0% of them NG, the golden set holds 15%"


@pytest.mark.parametrize(
    ("ng", "images", "out"),
    [
        (0, 80, True),  # none at all: telling even on a few images
        (6, 80, False),  # 8% of 80: chance allows it
        (36, 600, True),  # 6% of 600: too few defects to be chance
        (60, 600, False),  # 10%: within the tolerance
        (200, 600, True),  # a third called NG: too many
    ],
)
def test_what_contradicts_the_balance_depends_on_how_many_images_there_are(
    ng: int, images: int, out: bool
) -> None:
    labels = [Vote("NG", 0.95)] * ng + [Vote("OK", 0.95)] * (images - ng)

    assert depth([view("B1", labels)], GOLDEN, DEPTH).out is out
