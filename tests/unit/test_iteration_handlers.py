"""One retrain iteration through the curator, trainer and gatekeeper handlers with in-memory
adapters: each publishes its fact once, a redelivered event changes nothing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from schemas import (
    AlertRaised,
    DatasetCurated,
    ImageRef,
    ModelApproved,
    ModelCandidate,
    ModelRejected,
    RetrainRequested,
    TrainingProgressed,
)
from schemas.datasets import DatasetManifest, Split
from services.common.coordination import InMemoryCoordination
from services.common.images import encode_png
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
from tests.fakes import Published
from yieldloop.bootstrap_models import manifest
from yieldloop.demo_line import DemoLine, base_sets


@dataclass
class World:
    store: InMemoryImageStore
    registry: InMemoryRegistry
    tracking: InMemoryTracking
    coordination: InMemoryCoordination
    published: Published

    def adapters(self) -> dict[str, object]:
        return {
            "store": self.store,
            "registry": self.registry,
            "tracking": self.tracking,
            "coordination": self.coordination,
            "publish": self.published,
        }


@pytest.fixture(scope="module")
def world() -> World:
    """A small champion, registered as its own two referees, with base and golden manifests."""
    w = World(
        InMemoryImageStore(),
        InMemoryRegistry(),
        InMemoryTracking(),
        InMemoryCoordination(),
        Published(),
    )
    data, golden = base_sets(seed=1, train_size=400, golden_size=100)
    model = build_model("cnn_small", seed=0)
    train(model, data.x, data.y, golden.x, golden.y, config=TrainConfig(epochs=3, seed=0))
    base_uri, base_sha = put_model(w.store, manifest("base", data, w.store, split_val=True))
    golden_uri, _ = put_model(w.store, manifest("golden", golden, w.store, default=Split.GOLDEN))
    tags = {
        "manifest_uri": base_uri,
        "manifest_sha256": base_sha,
        "golden_manifest_uri": golden_uri,
    }
    for name in ("inspection", "referee-b1", "referee-b2"):
        mv = w.registry.register(
            name, weights_bytes(model), arch="cnn_small", classes=CLASSES, tags=tags
        )
        w.registry.set_alias(name, CHAMPION, mv.version)
    return w


def recent_images(store: InMemoryImageStore, n: int) -> list[ImageRef]:
    pngs = [encode_png(p.image) for p in DemoLine(seed=9).parts(n, drift=False)]
    return [ImageRef(sha256=sha256_of(png), uri=store.put(png)) for png in pngs]


def test_an_iteration_goes_from_request_to_decision_once(world: World) -> None:
    request = RetrainRequested(
        producer="monitor",
        correlation_id="it-1",
        iteration_id="it-1",
        line_id="line-1",
        reason="yield dropped",
        yield_rate=0.1,
        threshold=0.7,
        champion_version="1",
        images=recent_images(world.store, 80),
    )
    cur = curator_boot.bootstrap(
        settings=CuratorSettings(curator=CuratorConfig(min_selected=10)), **world.adapters()
    )  # type: ignore[arg-type]
    trn = trainer_boot.bootstrap(
        settings=TrainerSettings(trainer=TrainerConfig(epochs=2)), **world.adapters()
    )  # type: ignore[arg-type]
    gate = gate_boot.bootstrap(settings=GatekeeperSettings(), **world.adapters())  # type: ignore[arg-type]

    async def iterate() -> None:
        await curator.retrain_requested(request, cur)
        await curator.retrain_requested(request, cur)  # redelivered: nothing new
        [curated] = world.published.of(DatasetCurated)
        await trainer.dataset_curated(curated, trn)
        [candidate] = world.published.of(ModelCandidate)
        await gatekeeper.model_candidate(candidate, gate)
        await gatekeeper.model_candidate(candidate, gate)  # redelivered: nothing new

    asyncio.run(iterate())

    [curated] = world.published.of(DatasetCurated)
    dataset = get_model(world.store, curated.manifest_uri, DatasetManifest)
    assert curated.selected > 0 and len(dataset.split(Split.HOLDOUT)) > 0
    assert {e.source for e in dataset.split(Split.TRAIN)} == {"base", "iteration:it-1"}
    assert len(world.published.of(TrainingProgressed)) == 2
    [candidate] = world.published.of(ModelCandidate)
    challenger = world.registry.by_alias("inspection", CHALLENGER)
    assert challenger is not None and challenger.version == candidate.version
    assert challenger.tags["iteration_id"] == "it-1"
    decisions = world.published.of(ModelApproved) + world.published.of(ModelRejected)
    assert len(decisions) == 1
    champion = world.registry.by_alias("inspection", CHAMPION)
    assert champion is not None
    if isinstance(decisions[0], ModelApproved):
        assert champion.version == candidate.version
    else:
        assert champion.version == "1" and len(world.published.of(AlertRaised)) == 1
