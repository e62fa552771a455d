"""`yieldloop import` reads a user's labelled images, from class folders or a CSV, and splits
them into the base and golden sets of their own line (training is left to the e2e test)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from schemas.datasets import Split
from services.common.images import encode_png
from services.common.store import InMemoryImageStore, sha256_of
from tests.user_line import SIZE, write_labelled
from yieldloop.importer import NotImportable, from_csv, line_data, read_samples


def picture(value: int) -> bytes:
    return encode_png(np.full((20, 30), value, dtype=np.uint8))


def test_class_folders_give_their_names_as_labels(tmp_path: Path) -> None:
    for folder, n in (("good", 3), ("scratch", 2), ("dent", 1), (".cache", 4)):
        (tmp_path / folder).mkdir()
        for i in range(n):
            (tmp_path / folder / f"{i}.png").write_bytes(picture(i))
    (tmp_path / "good" / "notes.txt").write_text("not an image")

    samples = read_samples(tmp_path)

    assert Counter(s.label for s in samples) == {"good": 3, "scratch": 2, "dent": 1}
    assert samples[0].path == tmp_path / "dent" / "0.png"


def test_a_csv_of_filename_and_label_with_or_without_a_header(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    for name in ("a.png", "b.png"):
        (tmp_path / "img" / name).write_bytes(picture(1))
    with_header = tmp_path / "labels.csv"
    with_header.write_text("filename,label\nimg/a.png,OK\nimg/b.png,NG\n")
    bare = tmp_path / "bare.csv"
    bare.write_text("a.png, OK\n\nb.png,NG\n")

    assert [(s.path.name, s.label) for s in read_samples(with_header)] == [
        ("a.png", "OK"),
        ("b.png", "NG"),
    ]
    assert [s.label for s in from_csv(bare, tmp_path / "img")] == ["OK", "NG"]


def test_a_csv_may_not_name_a_file_outside_its_folder(tmp_path: Path) -> None:
    table = tmp_path / "labels.csv"
    table.write_text("../../etc/passwd,OK\n")

    with pytest.raises(NotImportable, match="outside"):
        read_samples(table)


def test_the_golden_set_takes_its_share_of_every_class_at_the_chosen_size(
    tmp_path: Path,
) -> None:
    samples = read_samples(write_labelled(tmp_path, 120, seed=4))
    counts = Counter(s.label for s in samples)
    store = InMemoryImageStore()

    data = line_data(samples, store, image_size=24, golden_share=0.25, seed=0, source="test")

    golden = Counter(e.label for e in data.golden_manifest.entries)
    assert golden == {label: round(n * 0.25) for label, n in counts.items()}
    assert data.classes == ("NG", "OK") and data.image_size == 24
    assert data.train.x.shape[1:] == (24, 24) and len(data.train) + len(data.golden) == 120
    assert {e.split for e in data.golden_manifest.entries} == {Split.GOLDEN}
    val = data.base_manifest.split(Split.VAL)
    assert len(val) == len(range(0, len(data.train), 10))
    first = data.base_manifest.entries[0]
    assert sha256_of(store.get(first.uri)) == first.sha256  # the user's own file, kept whole
    assert [data.classes[i] for i in data.train.y] == [e.label for e in data.base_manifest.entries]


def test_a_single_class_or_too_few_images_of_one_are_refused(tmp_path: Path) -> None:
    samples = read_samples(write_labelled(tmp_path, 30, seed=1, ng_rate=0.1))
    store = InMemoryImageStore()

    with pytest.raises(NotImportable, match="at least 10 images"):
        line_data(samples, store, image_size=SIZE, golden_share=0.2, seed=0, source="t")
    only_ok = [s for s in samples if s.label == "OK"]
    with pytest.raises(NotImportable, match="two classes"):
        line_data(only_ok, store, image_size=SIZE, golden_share=0.2, seed=0, source="t")
