"""The referee committee and the dataset it curates."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import replace

import pytest

from schemas.datasets import DatasetManifest, ManifestEntry, Split
from services.curator.domain import (
    CommitteePolicy,
    NotEnoughSamples,
    curate,
    stratified_split,
)
from services.curator.selection import (
    Candidate,
    Labelled,
    Rule,
    SelectionPolicy,
    Vote,
    select,
)

CLASSES = ["OK", "NG"]
SEED_RULE = SelectionPolicy(
    rule=Rule.AGREEMENT_CONFIDENCE, confidence_threshold=0.7, margin_share=0.5, max_class_share=0.9
)


def sha(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def candidate(name: str) -> Candidate:
    return Candidate(sha256=sha(name), uri=f"store://{name}")


def labelled(name: str, label: str) -> Labelled:
    return Labelled(sha256=sha(name), uri=f"store://{name}", label=label)


def line_samples(ok: int, ng: int, prefix: str = "new") -> list[Labelled]:
    return [labelled(f"{prefix}-ok-{i}", "OK") for i in range(ok)] + [
        labelled(f"{prefix}-ng-{i}", "NG") for i in range(ng)
    ]


def labels(items: list[Labelled]) -> Counter[str]:
    return Counter(item.label for item in items)


def test_the_committee_keeps_only_confident_agreements() -> None:
    images = [candidate(n) for n in ("agreed", "disputed", "hesitant", "borderline")]
    b1 = [Vote("NG", 0.95), Vote("NG", 0.99), Vote("OK", 0.65), Vote("OK", 0.7)]
    b2 = [Vote("NG", 0.80), Vote("OK", 0.99), Vote("OK", 0.99), Vote("OK", 0.7)]

    selection = select(images, b1, b2, policy=SEED_RULE)

    assert selection.kept == [labelled("agreed", "NG"), labelled("borderline", "OK")]
    assert selection.disagreements == [candidate("disputed")]
    assert selection.unsure == [candidate("hesitant")]


def test_an_image_submitted_twice_is_judged_once() -> None:
    images = [candidate("same"), candidate("same")]
    votes = [Vote("OK", 0.9), Vote("OK", 0.9)]

    selection = select(images, votes, votes, policy=SEED_RULE)

    assert selection.kept == [labelled("same", "OK")]


def test_votes_that_do_not_pair_with_the_candidates_are_refused() -> None:
    with pytest.raises(ValueError, match="2 candidates"):
        select(
            [candidate("a"), candidate("b")],
            [Vote("OK", 0.9)],
            [Vote("OK", 0.9)] * 2,
            policy=SEED_RULE,
        )


def test_a_stratified_split_takes_each_class_in_proportion() -> None:
    items = line_samples(ok=100, ng=20)

    rest, taken = stratified_split(items, ratio=0.1, seed=0)

    assert labels(taken) == {"OK": 10, "NG": 2}
    assert labels(rest) == {"OK": 90, "NG": 18}
    assert set(rest).isdisjoint(taken) and len(rest) + len(taken) == len(items)


def test_a_stratified_split_is_the_same_for_a_seed_whatever_the_order() -> None:
    items = line_samples(ok=50, ng=10)

    _, first = stratified_split(items, ratio=0.2, seed=7)
    _, again = stratified_split(list(reversed(items)), ratio=0.2, seed=7)
    _, other_seed = stratified_split(items, ratio=0.2, seed=8)

    assert set(first) == set(again)
    assert set(first) != set(other_seed)


def test_a_small_class_still_gives_one_and_keeps_one() -> None:
    items = [*line_samples(ok=30, ng=2), labelled("lonely", "SCRATCH")]

    rest, taken = stratified_split(items, ratio=0.1, seed=0)

    assert labels(taken) == {"OK": 3, "NG": 1}
    assert labels(rest) == {"OK": 27, "NG": 1, "SCRATCH": 1}


def test_a_zero_ratio_takes_nothing() -> None:
    items = line_samples(ok=10, ng=10)

    assert stratified_split(items, ratio=0.0, seed=0) == (items, [])


def test_curate_splits_the_new_samples_three_ways() -> None:
    policy = CommitteePolicy(holdout_ratio=0.2, val_ratio=0.1)

    manifest = curate(
        line_samples(ok=80, ng=20),
        iteration_id="it-7",
        previous=None,
        classes=CLASSES,
        policy=policy,
        parent_sha256=sha("parent"),
    )

    assert manifest.name == "dataset-it-7" and manifest.parent_sha256 == sha("parent")
    assert manifest.counts() == {"train": 72, "val": 8, "holdout": 20}
    assert Counter(e.label for e in manifest.split(Split.HOLDOUT)) == {"OK": 16, "NG": 4}
    assert {e.source for e in manifest.entries} == {"iteration:it-7"}


def test_curate_merges_the_previous_training_data_and_the_new_label_wins() -> None:
    relabelled = labelled("old-0", "NG")
    previous = previous_dataset(
        ("old-0", "OK", Split.TRAIN),
        ("old-1", "OK", Split.TRAIN),
        ("old-2", "NG", Split.VAL),
        ("old-holdout", "OK", Split.HOLDOUT),
        ("golden-0", "NG", Split.GOLDEN),
    )

    manifest = curate(
        [*line_samples(ok=40, ng=10), relabelled],
        iteration_id="it-8",
        previous=previous,
        classes=CLASSES,
        policy=CommitteePolicy(),
    )

    by_sha = {e.sha256: e for e in manifest.entries}
    assert by_sha[sha("old-1")] == previous.entries[1]
    assert by_sha[sha("old-2")].split is Split.VAL
    assert by_sha[sha("old-0")].label == "NG"
    assert by_sha[sha("old-0")].source == "iteration:it-8"
    assert sha("old-holdout") not in by_sha and sha("golden-0") not in by_sha
    assert len(manifest.entries) == 51 + 2


def test_without_merging_only_the_new_samples_remain() -> None:
    previous = previous_dataset(("old-0", "OK", Split.TRAIN))
    policy = CommitteePolicy(merge_with_previous=False)

    manifest = curate(
        line_samples(ok=40, ng=10),
        iteration_id="it-9",
        previous=previous,
        classes=CLASSES,
        policy=policy,
    )

    assert sha("old-0") not in {e.sha256 for e in manifest.entries}
    assert len(manifest.entries) == 50


def test_too_few_survivors_abort_the_iteration_with_a_reason() -> None:
    policy = CommitteePolicy(min_selected=30)

    with pytest.raises(NotEnoughSamples) as raised:
        curate(
            line_samples(ok=20, ng=9),
            iteration_id="it-10",
            previous=None,
            classes=CLASSES,
            policy=policy,
        )

    assert raised.value.reason == "only 29 samples survived the committee; at least 30 are needed"
    assert (raised.value.kept, raised.value.needed) == (29, 30)


def test_a_label_outside_the_classes_is_refused() -> None:
    samples = [*line_samples(ok=40, ng=0), labelled("odd", "SCRATCH")]

    with pytest.raises(ValueError, match="SCRATCH"):
        curate(
            samples,
            iteration_id="it-11",
            previous=None,
            classes=CLASSES,
            policy=replace(CommitteePolicy(), min_selected=1),
        )


def previous_dataset(*rows: tuple[str, str, Split]) -> DatasetManifest:
    entries = [
        ManifestEntry(
            sha256=sha(name), uri=f"store://{name}", label=label, split=split, source="base"
        )
        for name, label, split in rows
    ]
    return DatasetManifest(name="dataset-base", classes=CLASSES, entries=entries)
