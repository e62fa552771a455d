"""`yieldloop import`: a user's labelled images become their own line. Class folders (OK/, NG/,
any names) or a CSV of filename and label; a stratified share becomes the golden set, the rest
the base set the champion and both referees learn from. What it did is recorded in MLflow.
docs/your-own-line.md walks through it."""

from __future__ import annotations

import csv
import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from schemas.datasets import DatasetManifest, ManifestEntry, Split
from services.common.images import ImageRejected, decode_image
from services.common.models import registry_from
from services.common.registry import ModelVersion
from services.common.settings import CommonSettings
from services.common.store import ImageStore, LocalImageStore, put_model, sha256_of
from services.common.tracking import tracking_from
from yieldloop.bootstrap_models import VAL_EVERY, LineData, first_models, needed
from yieldloop.demo_line import LabeledImages
from yieldloop.sources import image_files

Say = Callable[[str], None]
MIN_PER_CLASS = 10  # fewer images of a class cannot give both a training and a golden share


class NotImportable(ValueError):
    """The images or their labels cannot become a line; the message says why."""


@dataclass(frozen=True)
class Sample:
    path: Path
    label: str


def from_class_folders(root: Path) -> list[Sample]:
    """Every image under each subfolder of `root`, labelled with the subfolder's name."""
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    return [Sample(root / c / name, c) for c in classes for name in image_files(root / c)]


def from_csv(table: Path, images: Path | None = None) -> list[Sample]:
    """Rows of filename and label (a header row `filename,label` is optional); filenames are
    relative to `images`, by default the CSV's folder, and may not leave it."""
    base = (images or table.parent).resolve()
    with table.open(newline="") as file:
        rows = [row for row in csv.reader(file) if row and any(cell.strip() for cell in row)]
    if rows and [cell.strip().lower() for cell in rows[0][:2]] == ["filename", "label"]:
        rows = rows[1:]
    samples = []
    for number, row in enumerate(rows, start=1):
        if len(row) < 2 or not row[1].strip():
            raise NotImportable(f"{table.name} row {number}: expected filename,label")
        path = (base / row[0].strip()).resolve()
        if not path.is_relative_to(base):
            raise NotImportable(f"{table.name} row {number}: {row[0]!r} is outside {base}")
        samples.append(Sample(path, row[1].strip()))
    return samples


def read_samples(source: Path, images: Path | None = None) -> list[Sample]:
    if source.is_dir():
        return from_class_folders(source)
    if source.suffix.lower() == ".csv" and source.is_file():
        return from_csv(source, images)
    raise NotImportable(f"{source} is neither a folder of class folders nor a .csv file")


def line_data(
    samples: Sequence[Sample],
    store: ImageStore,
    *,
    image_size: int,
    golden_share: float,
    seed: int,
    source: str,
) -> LineData:
    """Decode every image at `image_size`, keep each in the store, split base from golden."""
    counts = Counter(s.label for s in samples)
    if len(counts) < 2:
        raise NotImportable(f"need at least two classes, found {sorted(counts) or 'none'}")
    if few := {c: n for c, n in counts.items() if n < MIN_PER_CLASS}:
        raise NotImportable(f"need at least {MIN_PER_CLASS} images of each class; got {few}")
    classes = tuple(sorted(counts))
    base, golden = _split(samples, golden_share, seed)
    train = _entries(base, classes, store, image_size, source="import", val_every=VAL_EVERY)
    gold = _entries(golden, classes, store, image_size, source="import", golden=True)
    return LineData(
        classes=classes,
        image_size=image_size,
        train=train[0],
        golden=gold[0],
        base_manifest=DatasetManifest(name="base", classes=list(classes), entries=train[1]),
        golden_manifest=DatasetManifest(name="golden", classes=list(classes), entries=gold[1]),
        source=source,
    )


def _split(samples: Sequence[Sample], share: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """(base, golden): `share` of each class for golden, the same for a seed; base shuffled so
    that every class gives its share of validation images."""
    by_class: defaultdict[str, list[Sample]] = defaultdict(list)
    for sample in sorted(samples, key=lambda s: str(s.path)):
        by_class[sample.label].append(sample)
    base: list[Sample] = []
    golden: list[Sample] = []
    for label, group in sorted(by_class.items()):
        random.Random(f"{seed}:{label}").shuffle(group)
        take = min(max(1, round(len(group) * share)), len(group) - 1)
        golden += group[:take]
        base += group[take:]
    random.Random(seed).shuffle(base)
    return base, golden


def _entries(
    samples: Sequence[Sample],
    classes: tuple[str, ...],
    store: ImageStore,
    size: int,
    *,
    source: str,
    val_every: int = 0,
    golden: bool = False,
) -> tuple[LabeledImages, list[ManifestEntry]]:
    pixels, entries = [], []
    for i, sample in enumerate(samples):
        data = sample.path.read_bytes()
        try:
            pixels.append(decode_image(data, size=size))
        except ImageRejected as exc:
            raise NotImportable(f"{sample.path}: {exc}") from exc
        split = Split.GOLDEN if golden else Split.VAL if val_every and i % val_every == 0 else None
        entries.append(
            ManifestEntry(
                sha256=sha256_of(data),
                uri=store.put(data),
                label=sample.label,
                split=split or Split.TRAIN,
                source=source,
            )
        )
    y = np.array([classes.index(s.label) for s in samples], dtype=np.int64)
    return LabeledImages(np.stack(pixels), y), entries


def import_line(
    settings: CommonSettings,
    source: Path,
    *,
    images: Path | None = None,
    image_size: int = 32,
    golden_share: float = 0.2,
    force: bool = False,
    seed: int = 0,
    say: Say = print,
) -> list[ModelVersion]:
    """Build the line's sets, record the import in MLflow, then train and register its first
    champion and both referees."""
    if image_size < 8 or image_size % 8:
        raise NotImportable(f"image size must be a multiple of 8, got {image_size}")
    if not 0 < golden_share < 1:
        raise NotImportable(f"golden share must be between 0 and 1, got {golden_share}")
    registry, store = registry_from(settings), LocalImageStore(settings.store_root)
    if not force and not needed(settings, registry):
        raise NotImportable("models are registered already; --force registers new versions")
    samples = read_samples(source, images)
    data = line_data(
        samples,
        store,
        image_size=image_size,
        golden_share=golden_share,
        seed=seed,
        source=f"import:{source}",
    )
    say(f"import: {len(samples)} images of {', '.join(data.classes)} at {image_size} px")
    record(settings, store, data, golden_share=golden_share, seed=seed)
    return first_models(settings, data, registry=registry, store=store, say=say, seed=seed)


def record(
    settings: CommonSettings, store: ImageStore, data: LineData, *, golden_share: float, seed: int
) -> None:
    """The import as an MLflow run: where from, the settings, the sets and their sizes."""
    tracking = tracking_from(settings)
    run_id = tracking.start_run("import", tags={"stage": "import", "source": data.source})
    tracking.log_params(
        run_id,
        {
            "source": data.source,
            "classes": ",".join(data.classes),
            "image_size": data.image_size,
            "golden_share": golden_share,
            "seed": seed,
        },
    )
    for manifest in (data.base_manifest, data.golden_manifest):
        uri, digest = put_model(store, manifest)
        tracking.log_dataset(run_id, name=manifest.name, digest=digest, uri=uri, context="import")
        text = json.dumps(manifest.model_dump(), indent=1)
        tracking.log_text(run_id, text, f"dataset/{manifest.name}.json")
        for (split, label), n in Counter((e.split, e.label) for e in manifest.entries).items():
            tracking.log_metric(run_id, f"{split}_{label}", float(n))
    tracking.end_run(run_id)
