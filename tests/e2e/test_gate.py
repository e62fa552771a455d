"""A deliberately bad candidate (trained on shuffled labels) is refused: the champion stays,
the refusal and an alert are published."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from schemas import AlertRaised, Event, ModelCandidate, ModelRejected
from schemas.datasets import DatasetManifest, Split
from services.common.kafka import make_broker, publisher
from services.common.registry import CHAMPION
from services.common.store import LocalImageStore, get_model, put_model
from services.common.training import TrainConfig, train
from services.common.vision import CLASSES, build_model, weights_bytes
from tests.e2e.conftest import System
from yieldloop.demo_line import base_sets
from yieldloop.watch import Watcher

pytestmark = pytest.mark.e2e
LINE = "e2e-bad-candidate"


def shuffled_label_weights() -> bytes:
    data, val = base_sets(seed=5, train_size=1000, golden_size=200)
    wrong = np.random.default_rng(0).permutation(data.y)
    model = build_model("cnn_small", seed=0)
    train(model, data.x, wrong, val.x, val.y, config=TrainConfig(epochs=2, seed=0))
    return weights_bytes(model)


def holdout_from_golden(system: System, golden_uri: str) -> tuple[str, str]:
    store = LocalImageStore(system.settings.store_root)
    golden = get_model(store, golden_uri, DatasetManifest)
    entries = [e.model_copy(update={"split": Split.HOLDOUT}) for e in golden.entries[:200]]
    return put_model(
        store, DatasetManifest(name="e2e-holdout", classes=golden.classes, entries=entries)
    )


async def publish_and_wait(system: System, candidate: ModelCandidate) -> list[Event]:
    seen: list[Event] = []
    async with Watcher(system.settings, line_id=LINE) as watcher:
        async with make_broker(system.settings, client_id="e2e") as broker:
            await publisher(broker)(candidate)
        async with asyncio.timeout(180):
            async for event in watcher.events():
                if event is not None and getattr(event, "iteration_id", None) == "e2e-bad":
                    seen.append(event)
                if {type(e) for e in seen} >= {ModelRejected, AlertRaised}:
                    return seen
    return seen


def bad_candidate(system: System, iteration_id: str, line_id: str) -> ModelCandidate:
    """A version trained on shuffled labels, registered and offered to the gate against the
    serving champion, with a holdout drawn from the golden set."""
    name = system.settings.mlflow.model_name
    champion = system.registry.by_alias(name, CHAMPION)
    assert champion is not None
    golden_uri = champion.tags["golden_manifest_uri"]
    manifest_uri, manifest_sha = holdout_from_golden(system, golden_uri)
    bad = system.registry.register(
        name,
        shuffled_label_weights(),
        arch="cnn_small",
        classes=CLASSES,
        tags={"golden_manifest_uri": golden_uri},
    )
    return ModelCandidate(
        producer="e2e",
        correlation_id=iteration_id,
        iteration_id=iteration_id,
        line_id=line_id,
        model_name=name,
        version=bad.version,
        run_id="",
        manifest_uri=manifest_uri,
        manifest_sha256=manifest_sha,
    )


def test_a_model_trained_on_shuffled_labels_is_refused(system: System) -> None:
    name = system.settings.mlflow.model_name
    champion = system.registry.by_alias(name, CHAMPION)
    assert champion is not None
    candidate = bad_candidate(system, "e2e-bad", LINE)

    seen = asyncio.run(publish_and_wait(system, candidate))

    [rejected] = [e for e in seen if isinstance(e, ModelRejected)]
    assert rejected.version == candidate.version and rejected.reasons
    [alert] = [e for e in seen if isinstance(e, AlertRaised)]
    assert "challenger_holdout" in alert.details["scores"]  # type: ignore[operator]
    after = system.registry.by_alias(name, CHAMPION)
    assert after is not None and after.version == champion.version
    assert system.served_model()["version"] == champion.version
