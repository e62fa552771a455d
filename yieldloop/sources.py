"""Where the simulator's parts come from: the demo line, a folder or a zip of images. The demo
line and a folder can drift (any kind of the zoo in yieldloop.drifts) from a given image on."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from schemas import utcnow
from services.common.images import encode_png
from services.inference.domain import ZipLimits, zip_members
from yieldloop.demo_line import DemoLine
from yieldloop.drifts import DEFAULT_DRIFT, DEFAULT_STRENGTH, drift_named

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
ZIP_LIMITS = ZipLimits(max_entries=100_000, max_unpacked_bytes=1 << 30, max_entry_bytes=20 << 20)


@dataclass(frozen=True)
class Item:
    """One part to submit; the label is ground truth that only the simulator knows."""

    item_id: str
    png: bytes
    filename: str
    label: str | None
    drifted: bool
    defect: str | None


@dataclass
class DriftSwitch:
    """Owned by a caller who turns the line's drift on mid-run and needs to know when."""

    on: bool = False
    switched_at: datetime | None = None

    def switch_on(self) -> None:
        if not self.on:
            self.on, self.switched_at = True, utcnow()


def _item_ids() -> Iterator[str]:
    """Ids unique to this run (a fresh prefix) and ordered within it."""
    run = uuid.uuid4().hex[:8]
    index = 0
    while True:
        yield f"{run}-{index:06d}"
        index += 1


def demo_items(
    *,
    seed: int,
    drift_after: int | None,
    drift: DriftSwitch | None = None,
    kind: str = DEFAULT_DRIFT,
    strength: float = DEFAULT_STRENGTH,
) -> Iterator[Item]:
    """Endless DemoLine parts; drifted from index `drift_after` on, or once `drift` is on."""
    line = DemoLine(seed=seed, drift_kind=kind, drift_strength=strength)
    switch = drift or DriftSwitch()
    for index, item_id in enumerate(_item_ids()):
        if drift_after is not None and index >= drift_after:
            switch.switch_on()  # so the caller learns the onset time either way
        [part] = line.parts(1, drift=switch.on)
        yield Item(
            item_id, encode_png(part.image), f"{item_id}.png", part.label, part.drifted, part.defect
        )


def _is_image(name: PurePosixPath) -> bool:
    hidden = any(p.startswith(".") or p == "__MACOSX" for p in name.parts)
    return name.suffix.lower() in IMAGE_SUFFIXES and not hidden


def image_files(path: Path) -> list[PurePosixPath]:
    """Every image file under `path` (recursively), by relative path in name order."""
    if not path.is_dir():
        raise NotADirectoryError(f"{path} is not a folder")
    names = sorted(
        PurePosixPath(p.relative_to(path).as_posix()) for p in path.rglob("*") if p.is_file()
    )
    return [name for name in names if _is_image(name)]


def folder_items(
    path: Path,
    *,
    drift_after: int | None = None,
    kind: str = DEFAULT_DRIFT,
    strength: float = DEFAULT_STRENGTH,
    seed: int = 0,
) -> Iterator[Item]:
    """Every image file under `path` in name order, labels unknown; from `drift_after` on each
    is drifted (as gray) by the zoo's `kind`."""
    drift, rng = drift_named(kind), np.random.default_rng([seed, 5])
    for index, (name, item_id) in enumerate(zip(image_files(path), _item_ids(), strict=False)):
        data, drifted = (path / name).read_bytes(), drift_after is not None and index >= drift_after
        if drifted:
            data = encode_png(drift(_gray(data), strength, rng))
        yield Item(item_id, data, str(name), None, drifted, None)


def _gray(data: bytes) -> np.ndarray:
    """An image file as a gray float array in [0, 1] at its own size."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("L"), dtype=np.float32) / np.float32(255.0)


def zip_items(path: Path) -> Iterator[Item]:
    """Every image in a zip, sorted by name; a traversal or absolute name refuses the archive."""
    # Read now, not lazily: an unsafe archive is refused before anything is sent.
    members = sorted(zip_members(path.read_bytes(), ZIP_LIMITS))
    images = ((name, data) for name, data in members if _is_image(PurePosixPath(name)))
    return (
        Item(item_id, data, name, None, False, None)
        for (name, data), item_id in zip(images, _item_ids(), strict=False)
    )
