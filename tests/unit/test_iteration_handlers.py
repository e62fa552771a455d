"""One retrain iteration through the curator, trainer and gatekeeper handlers with in-memory
adapters: each stage acts once per iteration, whatever is delivered again, wherever it stopped,
and nothing acts on an aborted iteration."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from schemas import (
    AlertRaised,
    DatasetCurated,
    Event,
    ImageRef,
    IterationAborted,
    ModelApproved,
    ModelCandidate,
    ModelRejected,
    RetrainQueued,
    RetrainRequested,
    TrainingProgressed,
)
from schemas.datasets import DatasetManifest, Split
from services.common.coordination import InMemoryCoordination
from services.common.images import encode_png
from services.common.iteration import Stage, Transition
from services.common.ledger import InMemoryLedger
from services.common.registry import CHALLENGER, CHAMPION, InMemoryRegistry
from services.common.store import InMemoryImageStore, get_model, put_model, sha256_of
from services.common.tracking import InMemoryTracking
from services.common.training import TrainConfig, train
from services.common.vision import CLASSES, build_model, weights_bytes
from services.curator import bootstrap as curator_boot
from services.curator import handlers as curator
from services.curator.config import CuratorConfig, CuratorSettings
from services.gatekeeper import bootstrap as gate_boot
from services.gatekeeper import handlers as gatekeeper
from services.gatekeeper.config import GatekeeperSettings
from services.trainer import bootstrap as trainer_boot
from services.trainer import handlers as trainer
from services.trainer.config import TrainerConfig, TrainerSettings
from tests.fakes import Crash, Published
from yieldloop.bootstrap_models import manifest
from yieldloop.demo_line import DemoLine, base_sets


@dataclass
class World:
    store: InMemoryImageStore = field(default_factory=InMemoryImageStore)
    registry: InMemoryRegistry = field(default_factory=InMemoryRegistry)
    tracking: InMemoryTracking = field(default_factory=InMemoryTracking)
    coordination: InMemoryCoordination = field(default_factory=InMemoryCoordination)
    ledger: InMemoryLedger = field(default_factory=InMemoryLedger)
    published: Published = field(default_factory=Published)

    def adapters(self) -> dict[str, object]:
        return {
            "store": self.store,
            "registry": self.registry,
            "tracking": self.tracking,
            "coordination": self.coordination,
            "ledger": self.ledger,
            "publish": self.published,
        }

    def stages(
        self, **curation: object
    ) -> tuple[curator_boot.Curator, trainer_boot.Trainer, gate_boot.Gatekeeper]:
        given = self.adapters()
        # The world's referee is the small champion, which calls nearly every part OK: these
        # tests are about the saga, so its labels are taken whatever the golden set's balance.
        settings = {"min_selected": 10, "referee_max_balance_shift": 1.0, **curation}
        loose = CuratorConfig.model_validate(settings)
        cur = curator_boot.bootstrap(settings=CuratorSettings(curator=loose), **given)  # type: ignore[arg-type]
        trn = trainer_boot.bootstrap(
            settings=TrainerSettings(trainer=TrainerConfig(epochs=2)), **given
        )  # type: ignore[arg-type]
        gate = gate_boot.bootstrap(settings=GatekeeperSettings(), **given)  # type: ignore[arg-type]
        return cur, trn, gate


@pytest.fixture(scope="module")
def trained() -> tuple[bytes, object, object]:
    """A small champion's weights and the data it saw (trained once for the module)."""
    data, golden = base_sets(seed=1, train_size=400, golden_size=100)
    model = build_model("cnn_small", seed=0)
    train(model, data.x, data.y, golden.x, golden.y, config=TrainConfig(epochs=3, seed=0))
    return weights_bytes(model), data, golden


@pytest.fixture
def world(trained: tuple[bytes, object, object]) -> World:
    """The champion, registered as its own two referees, with base and golden manifests."""
    weights, data, golden = trained
    w = World()
    base_uri, base_sha = put_model(w.store, manifest("base", data, w.store, split_val=True))  # type: ignore[arg-type]
    golden_uri, _ = put_model(w.store, manifest("golden", golden, w.store, default=Split.GOLDEN))  # type: ignore[arg-type]
    tags = {
        "manifest_uri": base_uri,
        "manifest_sha256": base_sha,
        "golden_manifest_uri": golden_uri,
    }
    for name in ("inspection", "referee-b1", "referee-b2"):
        mv = w.registry.register(name, weights, arch="cnn_small", classes=CLASSES, tags=tags)
        w.registry.set_alias(name, CHAMPION, mv.version)
    return w


def recent_images(store: InMemoryImageStore, n: int, seed: int = 9) -> list[ImageRef]:
    pngs = [encode_png(p.image) for p in DemoLine(seed=seed).parts(n, drift=False)]
    return [ImageRef(sha256=sha256_of(png), uri=store.put(png)) for png in pngs]


def request(world: World, iteration_id: str = "it-1", n: int = 80) -> RetrainRequested:
    return RetrainRequested(
        producer="monitor",
        correlation_id=iteration_id,
        iteration_id=iteration_id,
        line_id="line-1",
        reason="yield dropped",
        yield_rate=0.1,
        threshold=0.7,
        champion_version="1",
        images=recent_images(world.store, n),
    )


async def curate(world: World, req: RetrainRequested) -> DatasetCurated:
    cur, _, _ = world.stages()
    await world.ledger.record([req], sent=True)
    await curator.retrain_requested(req, cur)
    return world.published.of(DatasetCurated)[-1]


async def to_candidate(world: World, req: RetrainRequested) -> ModelCandidate:
    _, trn, _ = world.stages()
    await trainer.dataset_curated(await curate(world, req), trn)
    return world.published.of(ModelCandidate)[-1]


def decisions(world: World) -> list[Event]:
    return [*world.published.of(ModelApproved), *world.published.of(ModelRejected)]


def test_an_iteration_goes_from_request_to_decision_once(world: World) -> None:
    cur, trn, gate = world.stages()
    req = request(world)

    async def iterate() -> None:
        await curator.retrain_requested(req, cur)
        await curator.retrain_requested(req, cur)  # redelivered: nothing new
        [curated] = world.published.of(DatasetCurated)
        await trainer.dataset_curated(curated, trn)
        await trainer.dataset_curated(curated, trn)  # redelivered: nothing new
        [candidate] = world.published.of(ModelCandidate)
        await gatekeeper.model_candidate(candidate, gate)
        await gatekeeper.model_candidate(candidate, gate)  # redelivered: nothing new

    asyncio.run(iterate())

    [curated] = world.published.of(DatasetCurated)
    dataset = get_model(world.store, curated.manifest_uri, DatasetManifest)
    assert curated.selected > 0 and len(dataset.split(Split.HOLDOUT)) > 0
    assert curated.base_version == "1"
    assert {e.source for e in dataset.split(Split.TRAIN)} == {"base", "iteration:it-1"}
    assert len(world.published.of(TrainingProgressed)) == 2
    [candidate] = world.published.of(ModelCandidate)
    assert candidate.base_version == "1"
    challenger = world.registry.by_alias("inspection", CHALLENGER)
    assert challenger is not None and challenger.version == candidate.version
    assert challenger.tags["iteration_id"] == "it-1"
    [decision] = decisions(world)
    champion = world.registry.by_alias("inspection", CHAMPION)
    assert champion is not None
    if isinstance(decision, ModelApproved):
        assert champion.version == candidate.version
    else:
        assert champion.version == "1" and len(world.published.of(AlertRaised)) == 1
    it = asyncio.run(world.ledger.get("it-1"))
    assert it is not None and it.stage is Stage.DECIDED
    assert all(fact.sent for fact in it.facts.values())


def test_referees_out_of_their_depth_end_the_iteration_in_a_call_for_people(world: World) -> None:
    """Judged by the golden set's balance, this referee (which calls nearly everything OK) is
    out of its depth: nothing is curated, and people are asked to label the images."""
    cur, _, _ = world.stages(referee_max_balance_shift=0.05)
    req = request(world, n=300)

    asyncio.run(curator.retrain_requested(req, cur))

    assert world.published.of(DatasetCurated) == []
    [aborted] = world.published.of(IterationAborted)
    assert aborted.reason.startswith("referees out of their depth: B1 labels")
    [alert] = world.published.of(AlertRaised)
    assert alert.severity == "critical" and "People are needed to label 300 images" in alert.summary
    asked = alert.details["images"]
    assert isinstance(asked, list) and {i["sha256"] for i in asked} == {
        ref.sha256 for ref in req.images
    }
    [run] = world.tracking.runs.values()
    assert run["tags"]["outcome"] == "out_of_depth"  # type: ignore[index]
    it = asyncio.run(world.ledger.get("it-1"))
    assert it is not None and it.stage is Stage.ABORTED


@pytest.mark.parametrize(
    ("rule", "figure", "outcome"),
    [
        ("agreement_confidence", "unsure", "curated"),
        ("margin", "margin_cut_OK", "curated"),
        # The world's referee calls nearly every part OK: capped, too few remain to train on.
        ("class_balanced", "capped", "too_few"),
    ],
)
def test_each_selection_rule_logs_its_figures_to_mlflow(
    world: World, rule: str, figure: str, outcome: str
) -> None:
    cur, _, _ = world.stages(selection=rule)

    asyncio.run(curator.retrain_requested(request(world), cur))

    [run] = world.tracking.runs.values()
    assert run["params"]["selection"] == rule  # type: ignore[index]
    assert run["tags"]["outcome"] == outcome  # type: ignore[index]
    figures = {key: value for key, value, _ in run["metrics"]}  # type: ignore[attr-defined]
    assert {"considered", "selected", "agreed", "kept_OK", figure} <= figures.keys()
    curated = world.published.of(DatasetCurated)
    assert [c.selected for c in curated] == ([figures["selected"]] if curated else [])


class CrashingLedger(InMemoryLedger):
    """Dies when asked to record an outcome of the given type, once."""

    def __init__(self, kind: type[Event]) -> None:
        super().__init__()
        self.kind: type[Event] | None = kind

    async def record(self, events: Sequence[Event], *, sent: bool) -> Transition:
        if not sent and self.kind is not None and isinstance(events[0], self.kind):
            self.kind = None
            raise Crash(f"died before recording {events[0].event_type}")
        return await super().record(events, sent=sent)


@pytest.mark.parametrize("dies", ["after registering", "before publishing"])
def test_a_trainer_that_died_offers_the_same_version_again(world: World, dies: str) -> None:
    """The version is tagged with its iteration; training again would register a second one."""
    curated = asyncio.run(curate(world, request(world)))
    if dies == "after registering":
        world.ledger = CrashingLedger(ModelCandidate)
        asyncio.run(world.ledger.record([curated], sent=True))
    else:
        world.published.crash_once(lambda e: isinstance(e, ModelCandidate))
    _, trn, _ = world.stages()

    with pytest.raises(Crash):
        asyncio.run(trainer.dataset_curated(curated, trn))
    asyncio.run(trainer.dataset_curated(curated, trn))  # delivered again after the restart

    versions = [v for (n, v) in world.registry.versions if n == "inspection"]
    assert versions == ["1", "2"]
    [candidate] = world.published.of(ModelCandidate)
    assert candidate.version == "2"
    assert len(world.published.of(TrainingProgressed)) == 2  # trained once
    train_runs = [r for r in world.tracking.runs.values() if r["tags"]["stage"] == "train"]  # type: ignore[index]
    assert [r["status"] for r in train_runs] == ["FINISHED"]


def test_a_gatekeeper_that_died_before_publishing_republishes_the_same_decision(
    world: World,
) -> None:
    candidate = asyncio.run(to_candidate(world, request(world)))
    _, _, gate = world.stages()
    world.published.crash_once(lambda e: isinstance(e, ModelApproved | ModelRejected))

    with pytest.raises(Crash):
        asyncio.run(gatekeeper.model_candidate(candidate, gate))
    asyncio.run(gatekeeper.model_candidate(candidate, gate))
    asyncio.run(gatekeeper.model_candidate(candidate, gate))  # and once more: already sent

    [decision] = decisions(world)
    it = asyncio.run(world.ledger.get(candidate.iteration_id))
    assert it is not None and it.fact(Stage.DECIDED).event.event_id == decision.event_id  # type: ignore[union-attr]
    runs = [r for r in world.tracking.runs.values() if r["tags"].get("stage") == "gate"]  # type: ignore[union-attr]
    assert len(runs) == 1


def abort(world: World, iteration_id: str) -> None:
    aborted = IterationAborted(
        producer="monitor", iteration_id=iteration_id, line_id="line-1", stage="x", reason="late"
    )
    assert asyncio.run(world.ledger.record([aborted], sent=True)).changed


def test_nothing_is_curated_for_an_aborted_iteration(world: World) -> None:
    cur, _, _ = world.stages()
    req = request(world)
    asyncio.run(world.ledger.record([req], sent=True))
    abort(world, req.iteration_id)

    outcome = asyncio.run(curator.retrain_requested(req, cur))

    assert outcome == "aborted" and world.published.events == []


def test_nothing_is_trained_for_an_aborted_iteration(world: World) -> None:
    curated = asyncio.run(curate(world, request(world)))
    abort(world, curated.iteration_id)
    _, trn, _ = world.stages()

    assert asyncio.run(trainer.dataset_curated(curated, trn)) == "aborted"
    assert world.published.of(ModelCandidate) == []
    assert [v for (n, v) in world.registry.versions if n == "inspection"] == ["1"]


def test_a_timed_out_iteration_is_never_promoted(world: World) -> None:
    candidate = asyncio.run(to_candidate(world, request(world)))
    abort(world, candidate.iteration_id)
    _, _, gate = world.stages()

    assert asyncio.run(gatekeeper.model_candidate(candidate, gate)) == "aborted"
    assert decisions(world) == []
    champion = world.registry.by_alias("inspection", CHAMPION)
    assert champion is not None and champion.version == "1"


def test_a_candidate_whose_base_is_no_longer_the_champion_is_refused(world: World) -> None:
    candidate = asyncio.run(to_candidate(world, request(world)))
    newer = world.registry.register(
        "inspection", b"another fix", arch="cnn_small", classes=CLASSES, tags={}
    )
    world.registry.set_alias("inspection", CHAMPION, newer.version)  # another fix landed first
    _, _, gate = world.stages()

    asyncio.run(gatekeeper.model_candidate(candidate, gate))

    [rejected] = world.published.of(ModelRejected)
    assert rejected.reasons == [f"trained from v1, but v{newer.version} is the champion now"]
    champion = world.registry.by_alias("inspection", CHAMPION)
    assert champion is not None and champion.version == newer.version


def test_drops_queued_from_other_lines_join_the_next_curation(world: World) -> None:
    drop = RetrainQueued(
        producer="monitor",
        iteration_id="it-1",
        line_id="line-2",
        reason="yield dropped too",
        yield_rate=0.2,
        threshold=0.7,
        champion_version="1",
        images=recent_images(world.store, 30, seed=11),
    )
    asyncio.run(world.ledger.queue(drop))

    curated = asyncio.run(curate(world, request(world, n=40)))

    assert curated.joined == [drop.event_id] and curated.considered == 70
    assert asyncio.run(world.ledger.taken_by(str(drop.event_id))) == "it-1"
    assert asyncio.run(world.ledger.pending()) == []
