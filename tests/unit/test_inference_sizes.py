"""The inference service judges every image at the size its serving model was built for (a user's
line need not be 32 px), and sends the image's statistics with each prediction."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable

import numpy as np

from schemas import ImageRef, ImageSubmitted, PredictionMade
from services.common.coordination import InMemoryCoordination
from services.common.image_stats import STATS
from services.common.images import encode_png
from services.common.ledger import InMemoryLedger
from services.common.registry import CHAMPION, InMemoryRegistry
from services.common.store import InMemoryImageStore
from services.common.tracking import InMemoryTracking
from services.common.vision import CLASSES, build_model, weights_bytes
from services.inference import handlers
from services.inference.bootstrap import Inference, bootstrap
from services.inference.config import InferenceSettings
from tests.fakes import DeadLetters, Published, record_of


def service(size: int) -> tuple[Inference, Published]:
    """An inference service whose champion judges `size` px images; not started yet."""
    registry = InMemoryRegistry()
    weights = weights_bytes(build_model("cnn_small", seed=0, image_size=size))
    tags = {"image_size": str(size)}
    mv = registry.register("inspection", weights, arch="cnn_small", classes=CLASSES, tags=tags)
    registry.set_alias("inspection", CHAMPION, mv.version)
    published = Published()
    svc = bootstrap(
        dead_letter=DeadLetters(),
        settings=InferenceSettings(),
        publish=published,
        store=InMemoryImageStore(),
        registry=registry,
        tracking=InMemoryTracking(),
        coordination=InMemoryCoordination(),
        ledger=InMemoryLedger(),
    )
    return svc, published


def part(seed: int) -> bytes:
    """A camera's frame: not square, not the model's size."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=(90, 70), dtype=np.uint8)
    return encode_png(pixels)


def submitted(i: int) -> ImageSubmitted:
    return ImageSubmitted(
        producer="test", line_id="line-48", item_id=f"p{i}", image=ImageRef.inline(part(i))
    )


async def reported(judging: Awaitable[list[PredictionMade]], svc: Inference) -> None:
    await (await handlers.report(await judging, svc))


def test_a_48_px_line_is_judged_at_48_px_with_its_image_statistics() -> None:
    svc, published = service(48)
    asyncio.run(handlers.start(svc))

    records = [record_of(submitted(i), offset=i) for i in range(3)]
    asyncio.run(reported(handlers.images_submitted(records, svc), svc))
    upload = asyncio.run(handlers.predict_upload(part(9), "frame.png", svc))

    made = published.of(PredictionMade)
    assert [p.item_id for p in made] == ["p0", "p1", "p2", "frame.png"]
    assert all(set(p.input_stats) == set(STATS) for p in made)
    assert upload.label in CLASSES and made[-1].source == "rest"


def test_images_that_arrived_before_the_model_was_loaded_are_judged_at_its_size() -> None:
    svc, published = service(48)
    arrived, poison = asyncio.run(handlers.unpack([record_of(submitted(1), offset=0)], svc))
    assert arrived[0].pixels.shape == (32, 32) and poison == []

    asyncio.run(handlers.start(svc))
    asyncio.run(reported(handlers.judged(arrived, svc), svc))

    [made] = published.of(PredictionMade)
    assert made.item_id == "p1"


def test_a_large_upload_is_judged_off_the_event_loop_and_reported_like_a_small_one() -> None:
    svc, published = service(48)
    asyncio.run(handlers.start(svc))
    noise = np.random.default_rng(3).integers(0, 256, size=(400, 400), dtype=np.uint8)
    heavy, blank, small = encode_png(noise), encode_png(np.zeros((1000, 1000))), part(9)
    assert not handlers.is_small(heavy) and not handlers.is_small(blank)  # bytes, pixels
    assert handlers.is_small(small) and handlers.is_small(b"not an image")

    stored_in: dict[bytes, int] = {}
    put = svc.store.put

    def noting_thread(data: bytes) -> str:
        stored_in[data] = threading.get_ident()
        return put(data)

    svc.store.put = noting_thread  # type: ignore[method-assign]
    for name, data in [("heavy.png", heavy), ("blank.png", blank), ("small.png", small)]:
        asyncio.run(handlers.predict_upload(data, name, svc))

    loop_thread = threading.get_ident()  # asyncio.run's loop runs in this thread
    assert stored_in[heavy] != loop_thread and stored_in[blank] != loop_thread
    assert stored_in[small] == loop_thread
    made = published.of(PredictionMade)
    assert [p.item_id for p in made] == ["heavy.png", "blank.png", "small.png"]
    for p, data in zip(made, [heavy, blank, small], strict=True):
        assert p.source == "rest" and p.label in CLASSES and set(p.input_stats) == set(STATS)
        assert p.image.uri is not None and svc.store.get(p.image.uri) == data
