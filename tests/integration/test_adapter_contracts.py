"""One contract per port, passed by the in-memory adapter and the real one alike (real Redis,
a local image store, a real MLflow server)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from services.common.coordination import Coordination, InMemoryCoordination, RedisCoordination
from services.common.mlflow_registry import MlflowRegistry
from services.common.registry import (
    CHAMPION,
    PREVIOUS,
    InMemoryRegistry,
    ModelRegistry,
    promote,
)
from services.common.settings import CommonSettings
from services.common.store import (
    BlobCorrupt,
    BlobNotFound,
    ImageStore,
    InMemoryImageStore,
    LocalImageStore,
    blob_key,
    sha256_of,
)

pytestmark = pytest.mark.integration


@pytest.fixture(params=["memory", "redis"])
def coordination(request: pytest.FixtureRequest, stack: CommonSettings) -> Coordination:
    if request.param == "memory":
        return InMemoryCoordination()
    return RedisCoordination.from_url(stack.redis_url)


@pytest.fixture(params=["memory", "local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ImageStore:
    return InMemoryImageStore() if request.param == "memory" else LocalImageStore(tmp_path)


@pytest.fixture(params=["memory", "mlflow"])
def registry(request: pytest.FixtureRequest, stack: CommonSettings) -> Iterator[ModelRegistry]:
    if request.param == "memory":
        yield InMemoryRegistry()
    else:
        yield MlflowRegistry(stack.mlflow_uri, experiment="contracts")


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_work_is_done_once(coordination: Coordination) -> None:
    key = fresh("job")
    assert not await coordination.is_done(key)
    await coordination.mark_done(key)
    assert await coordination.is_done(key)


async def test_a_checkpoint_is_kept_whole(coordination: Coordination) -> None:
    name = fresh("monitor")
    assert await coordination.checkpoint(name) is None
    await coordination.save_checkpoint(name, {"offsets": {"t/0": 12}, "lines": {}})
    assert await coordination.checkpoint(name) == {"offsets": {"t/0": 12}, "lines": {}, "parts": {}}
    assert await coordination.ping()


async def test_a_checkpoint_keeps_every_part_until_it_is_written_again(
    coordination: Coordination,
) -> None:
    name = fresh("monitor")
    await coordination.save_checkpoint(name, {"offsets": {"t/0": 1}}, {"a": [1], "b": {"x": 2}})
    await coordination.save_checkpoint(name, {"offsets": {"t/0": 5}}, {"b": {"x": 3}})
    await coordination.save_checkpoint(name, {"offsets": {"t/0": 9}})
    assert await coordination.checkpoint(name) == {
        "offsets": {"t/0": 9},
        "parts": {"a": [1], "b": {"x": 3}},
    }


async def test_job_status_is_kept(coordination: Coordination) -> None:
    job = fresh("train")
    assert await coordination.status(job) is None
    await coordination.set_status(job, {"state": "training", "epoch": 2})
    assert await coordination.status(job) == {"state": "training", "epoch": 2}


def test_blobs_are_content_addressed(store: ImageStore) -> None:
    uri = store.put(b"part 1")
    assert store.put(b"part 1") == uri
    assert store.get(uri) == b"part 1"
    assert "sha256/" in uri


def test_a_missing_blob_is_reported(store: ImageStore) -> None:
    stored, never = sha256_of(b"part 2"), sha256_of(b"never stored")
    uri = store.put(b"part 2").replace(stored[:2], never[:2], 1).replace(stored[2:4], never[2:4], 1)
    with pytest.raises(BlobNotFound):
        store.get(uri.replace(stored, never))


def test_a_tampered_blob_is_refused(store: ImageStore) -> None:
    uri = store.put(b"part 3")
    if isinstance(store, InMemoryImageStore):
        store.blobs[uri] = b"tampered"
    else:
        Path(urlparse(uri).path).write_bytes(b"tampered")
    with pytest.raises(BlobCorrupt):
        store.get(uri)


def test_a_local_store_reads_nothing_outside_its_folder(tmp_path: Path) -> None:
    store = LocalImageStore(tmp_path / "store")
    with pytest.raises(BlobNotFound):
        store.get((tmp_path / "elsewhere").as_uri())


def test_a_local_store_under_a_folder_with_a_space_and_an_accent_reads_back(
    tmp_path: Path,
) -> None:
    store = LocalImageStore(tmp_path / "line 1 caméra")
    uri = store.put(b"part 4")
    assert uri == (tmp_path / "line 1 caméra" / blob_key(sha256_of(b"part 4"))).as_uri()
    assert store.get(uri) == b"part 4"
    assert store.put(b"part 4") == uri


def test_versions_aliases_and_weights(registry: ModelRegistry) -> None:
    name = fresh("contract-model")
    first = registry.register(
        name, b"weights one", arch="cnn_small", classes=("OK", "NG"), tags={"iteration_id": "it-1"}
    )
    second = registry.register(name, b"weights two", arch="cnn_small", classes=("OK", "NG"))

    assert registry.by_alias(name, CHAMPION) is None
    assert promote(registry, name, first.version) is None
    assert promote(registry, name, second.version) == first.version

    champion, previous = registry.by_alias(name, CHAMPION), registry.by_alias(name, PREVIOUS)
    assert champion is not None and champion.version == second.version
    assert previous is not None and previous.version == first.version
    assert registry.weights(champion) == b"weights two"
    assert registry.get(name, first.version).tags["iteration_id"] == "it-1"
    assert registry.get(name, first.version).classes == ("OK", "NG")


def test_a_version_is_found_by_its_tags(registry: ModelRegistry) -> None:
    name = fresh("contract-model")
    registry.register(name, b"w1", arch="cnn_small", classes=("OK", "NG"), tags={"it": "a"})
    second = registry.register(
        name, b"w2", arch="cnn_small", classes=("OK", "NG"), tags={"it": "b"}
    )
    found = registry.find(name, {"it": "b"})
    assert found is not None and found.version == second.version
    assert registry.find(name, {"it": "never"}) is None


def test_an_alias_is_removed_and_a_tag_set_and_removed(registry: ModelRegistry) -> None:
    name = fresh("contract-model")
    first = registry.register(name, b"w1", arch="cnn_small", classes=("OK", "NG"))
    registry.set_alias(name, PREVIOUS, first.version)

    registry.delete_alias(name, PREVIOUS)
    registry.delete_alias(name, PREVIOUS)  # already gone: nothing to do
    assert registry.by_alias(name, PREVIOUS) is None

    registry.set_tag(name, first.version, "withdrawn", "rb-1: defects escape")
    assert registry.get(name, first.version).tags["withdrawn"] == "rb-1: defects escape"
    registry.set_tag(name, first.version, "withdrawn", None)
    assert "withdrawn" not in registry.get(name, first.version).tags
