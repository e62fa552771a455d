"""Where the simulated line's parts come from, and the ground truth it keeps to itself."""

from __future__ import annotations

import asyncio
import zipfile
from itertools import islice
from pathlib import Path

import numpy as np
import pytest

from schemas import ImageSubmitted
from services.common.images import decode_image, encode_png
from services.common.store import LocalImageStore
from services.inference.domain import UnsafeArchive
from yieldloop.produce import Pace, image_ref
from yieldloop.sources import DriftSwitch, Item, demo_items, folder_items, zip_items
from yieldloop.truth import TRUTH_FIELDS, read_truth, truth_log

PNG = encode_png(np.zeros((32, 32), dtype=np.uint8))


def test_the_demo_line_drifts_from_the_chosen_part_on() -> None:
    switch = DriftSwitch()
    items = list(islice(demo_items(seed=0, drift_after=3, drift=switch), 6))

    assert [item.drifted for item in items] == [False, False, False, True, True, True]
    assert switch.on and switch.switched_at is not None  # the onset time is known either way
    assert len({item.item_id for item in items}) == 6
    assert {item.label for item in items} <= {"OK", "NG"}
    assert decode_image(items[0].png).shape == (32, 32)


def test_the_demo_line_drifts_once_its_owner_flips_the_switch() -> None:
    switch = DriftSwitch()
    parts = demo_items(seed=0, drift_after=None, drift=switch)
    before = list(islice(parts, 4))
    switch.switch_on()
    after = list(islice(parts, 4))

    assert not any(item.drifted for item in before)
    assert all(item.drifted for item in after)
    assert switch.switched_at is not None


def test_the_same_seed_gives_the_same_parts_under_fresh_item_ids() -> None:
    first = list(islice(demo_items(seed=7, drift_after=None), 3))
    second = list(islice(demo_items(seed=7, drift_after=None), 3))

    assert [i.png for i in first] == [i.png for i in second]
    assert {i.item_id for i in first}.isdisjoint(i.item_id for i in second)


def test_a_folder_sends_every_image_in_name_order_with_no_label(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    for name in ("b/2.png", "a.png", "notes.txt", ".hidden.png"):
        (tmp_path / name).write_bytes(PNG)

    items = list(folder_items(tmp_path))

    assert [i.filename for i in items] == ["a.png", "b/2.png"]
    assert all(i.label is None and not i.drifted for i in items)


def test_a_zip_sends_its_images_and_skips_folders(tmp_path: Path) -> None:
    archive = tmp_path / "parts.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("line/", b"")
        z.writestr("line/2.png", PNG)
        z.writestr("line/1.png", PNG)
        z.writestr("readme.txt", b"not an image")

    assert [i.filename for i in zip_items(archive)] == ["line/1.png", "line/2.png"]


@pytest.mark.parametrize("name", ["../escape.png", "/etc/abs.png", "a/../../up.png"])
def test_a_zip_with_a_name_outside_the_archive_is_refused(tmp_path: Path, name: str) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("fine.png", PNG)
        z.writestr(zipfile.ZipInfo(name), PNG)

    with pytest.raises(UnsafeArchive):
        zip_items(archive)


def test_the_truth_file_keeps_one_row_per_submitted_part(tmp_path: Path) -> None:
    items = list(islice(demo_items(seed=1, drift_after=1), 3))
    truth = tmp_path / "run" / "truth.csv"

    with truth_log(truth) as record:
        for item in items:
            record(item, submitted(item))

    assert truth.read_text().splitlines()[0] == ",".join(TRUTH_FIELDS)
    rows = read_truth(truth)
    assert [r.item_id for r in rows] == [i.item_id for i in items]
    assert [r.label for r in rows] == [i.label for i in items]
    assert [r.drifted for r in rows] == [False, True, True]
    assert rows[0].submitted_at.tzinfo is not None


def test_a_small_image_travels_inline_and_a_large_one_as_a_claim_check(tmp_path: Path) -> None:
    store = LocalImageStore(tmp_path)

    inline = image_ref(PNG, limit=len(PNG), store=store)
    claim = image_ref(PNG, limit=len(PNG) - 1, store=store)

    assert inline.data == PNG and inline.uri is None
    assert claim.data is None and claim.uri is not None
    assert store.get(claim.uri) == PNG and claim.sha256 == inline.sha256


async def test_a_stop_request_ends_the_wait_at_once() -> None:
    stop = asyncio.Event()
    pace = Pace(0.01, stop)  # the next part would be due in 100 s
    stop.set()

    assert await asyncio.wait_for(pace.wait(1), timeout=1.0)


def submitted(item: Item) -> ImageSubmitted:
    return ImageSubmitted(
        producer="test",
        line_id="line-1",
        item_id=item.item_id,
        image=image_ref(item.png, limit=1 << 20, store=LocalImageStore(Path())),
        filename=item.filename,
    )
