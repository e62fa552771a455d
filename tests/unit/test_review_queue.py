"""The review queue: which dropped images a person is asked about, how their answers come
back, and how those answers win over the referees' labels in the next dataset."""

from __future__ import annotations

import asyncio

import pytest

from schemas import DatasetCurated, IterationAborted, LabelProvided, ReviewRequested
from schemas.datasets import DatasetManifest
from services.common.review import ReviewQueue, UnknownItem, UnknownLabel
from services.common.store import get_model
from services.curator import handlers as curator
from services.curator.domain import CommitteePolicy, curate
from services.curator.reviews import ReviewPolicy, informativeness, to_review
from services.curator.selection import Candidate, Labelled, Selection, Vote
from tests.samples import one_of_each
from tests.unit.test_curator_domain import CLASSES, line_samples, sha
from tests.unit.test_iteration_handlers import World, recent_images, request, trained, world

__all__ = ["trained", "world"]  # fixtures used below


def dropped(*votes: tuple[str, Vote, Vote], unsure: bool = False) -> Selection:
    picked = [Candidate(sha(name), f"store://{name}") for name, _, _ in votes]
    return Selection(
        kept=[],
        disagreements=[] if unsure else picked,
        unsure=picked if unsure else [],
        votes={sha(name): (a, b) for name, a, b in votes},
    )


def test_confident_disagreement_ranks_above_hesitant_agreement() -> None:
    assert informativeness((Vote("OK", 0.99), Vote("NG", 0.95))) == pytest.approx(1.95)
    assert informativeness((Vote("OK", 0.6), Vote("NG", 0.55))) == pytest.approx(1.55)
    assert informativeness((Vote("OK", 0.5), Vote("OK", 0.9))) == pytest.approx(0.5)
    assert informativeness((Vote("OK", 0.69), Vote("OK", 0.9))) == pytest.approx(0.31)


def test_the_most_informative_drops_are_asked_up_to_the_count_and_share() -> None:
    selection = dropped(
        ("sure-split", Vote("OK", 0.99), Vote("NG", 0.98)),
        ("weak-split", Vote("OK", 0.51), Vote("NG", 0.52)),
        ("mid-split", Vote("OK", 0.8), Vote("NG", 0.7)),
        ("other", Vote("NG", 0.9), Vote("OK", 0.6)),
    )
    asks = to_review(selection, ReviewPolicy(max_items=3, max_share=1.0))
    assert [a.candidate.uri for a in asks] == [
        "store://sure-split",
        "store://mid-split",
        "store://other",
    ]
    assert {a.reason for a in asks} == {"disagreement"}
    assert len(to_review(selection, ReviewPolicy(max_items=10, max_share=0.5))) == 2
    assert to_review(selection, ReviewPolicy(max_items=0, max_share=1.0)) == []


def test_a_persons_label_wins_over_the_referees_and_the_previous_dataset() -> None:
    kept = line_samples(ok=40, ng=10)
    disputed = kept[0]
    human = [
        Labelled(disputed.sha256, disputed.uri, "NG", source="review:ana"),
        Labelled(sha("never-kept"), "store://never-kept", "OK", source="review:ana"),
    ]
    manifest = curate(
        kept,
        iteration_id="it-2",
        previous=None,
        classes=CLASSES,
        policy=CommitteePolicy(min_selected=10),
        human=human,
    )
    by_sha = {e.sha256: e for e in manifest.entries}
    assert by_sha[disputed.sha256].label == "NG"
    assert by_sha[disputed.sha256].source == "review:ana"
    assert by_sha[sha("never-kept")].source == "review:ana"
    assert len(manifest.entries) == len(kept) + 1


def test_the_queue_lists_what_is_unanswered_and_refuses_unknown_items_and_labels() -> None:
    [asked] = [e for e in one_of_each() if isinstance(e, ReviewRequested)]
    queue = ReviewQueue.of([asked])
    assert queue.pending() == [asked]
    with pytest.raises(UnknownItem):
        queue.answer("f" * 64, label="OK", reviewer="ana", producer="test")
    with pytest.raises(UnknownLabel):
        queue.answer(asked.item, label="MAYBE", reviewer="ana", producer="test")
    given = queue.answer(asked.item, label="OK", reviewer="ana", producer="test")
    assert (given.iteration_id, given.served_label, given.causation_id) == (
        "it-1",
        "NG",
        asked.event_id,
    )
    assert ReviewQueue.of([asked, given]).pending() == []


def curate_with(world: World, iteration_id: str, *, seed: int, **config: object) -> None:
    """One curation of images of its own (the seed picks them)."""
    cur, _, _ = world.stages(**config)
    req = request(world, iteration_id)
    req = req.model_copy(update={"images": recent_images(world.store, 80, seed=seed)})
    asyncio.run(world.ledger.record([req], sent=True))
    asyncio.run(curator.retrain_requested(req, cur))


def test_dropped_images_are_asked_about_and_the_answers_join_the_next_dataset(
    world: World,
) -> None:
    # A threshold no referee reaches: every image is dropped as unsure.
    curate_with(world, "it-1", seed=9, confidence_threshold=1.0, review_max_items=6)
    asks = world.published.of(ReviewRequested)
    [aborted] = world.published.of(IterationAborted)  # nothing survived; people are still asked
    assert "survived" in aborted.reason
    assert len(asks) == 6 and {a.reason for a in asks} == {"low_confidence"}
    scores = [a.informativeness for a in asks]
    assert scores == sorted(scores, reverse=True)
    assert all(len(a.votes) == 2 and a.iteration_id == "it-1" for a in asks)

    queue = ReviewQueue.of(asks)
    answers = [queue.answer(a.item, label="NG", reviewer="ana", producer="test") for a in asks[:3]]
    world.reviews.events.extend([*asks, *answers])

    curate_with(world, "it-2", seed=10)
    [curated] = world.published.of(DatasetCurated)
    manifest = get_model(world.store, curated.manifest_uri, DatasetManifest)
    labelled = {e.sha256: e for e in manifest.entries if e.source.startswith("review:")}
    assert set(labelled) == {a.item for a in answers}
    assert {e.label for e in labelled.values()} == {"NG"} and curated.human_labels == 3
    assert all(isinstance(a, LabelProvided) for a in answers)
