"""`yieldloop bootstrap`: the first champion and the two referees, trained on the clean base set
and registered in MLflow, with the datasets they saw kept as manifests in the image store. The
demo line starts here; `yieldloop import` starts a user's line the same way (first_models)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from schemas.datasets import DatasetManifest, ManifestEntry, Split
from services.common.images import encode_png
from services.common.models import registry_from
from services.common.registry import CHAMPION, ModelRegistry, ModelVersion
from services.common.settings import CommonSettings
from services.common.store import ImageStore, LocalImageStore, put_model, sha256_of
from services.common.tracking import Tracking, tracking_from
from services.common.training import EpochStats
from services.common.vision import CLASSES, IMAGE_SIZE, accuracy, weights_bytes
from yieldloop.demo_line import LabeledImages, base_sets
from yieldloop.recipes import (
    CHAMPION_RECIPE,
    REFEREE_RECIPES,
    Recipe,
    check_referee,
    fit,
    stressed,
)

Say = Callable[[str], None]
VAL_EVERY = 10  # every tenth base image validates instead of trains


@dataclass(frozen=True)
class LineData:
    """What a line's first models learn from and are checked on. The manifests name the same
    images as `train` (every VAL_EVERY-th one marked val) and `golden`."""

    classes: tuple[str, ...]
    image_size: int
    train: LabeledImages
    golden: LabeledImages
    base_manifest: DatasetManifest
    golden_manifest: DatasetManifest
    source: str


def needed(settings: CommonSettings, registry: ModelRegistry) -> bool:
    names = (settings.mlflow.model_name, *settings.mlflow.referee_names)
    return any(registry.by_alias(name, CHAMPION) is None for name in names)


def bootstrap_models(
    settings: CommonSettings, *, say: Say = print, force: bool = False, seed: int = 0
) -> list[ModelVersion]:
    registry, store = registry_from(settings), LocalImageStore(settings.store_root)
    if not force and not needed(settings, registry):
        say("bootstrap: champion and referees are registered already")
        return []
    train, golden = base_sets(seed)
    data = LineData(
        classes=CLASSES,
        image_size=IMAGE_SIZE,
        train=train,
        golden=golden,
        base_manifest=manifest("base", train, store, split_val=True),
        golden_manifest=manifest("golden", golden, store, default=Split.GOLDEN),
        source="demo",
    )
    return first_models(settings, data, registry=registry, store=store, say=say, seed=seed)


def first_models(
    settings: CommonSettings,
    data: LineData,
    *,
    registry: ModelRegistry,
    store: ImageStore,
    say: Say,
    seed: int = 0,
) -> list[ModelVersion]:
    """Train and register the champion (checked on the golden set) and both referees (vetted
    on the golden set under the generic augmentation); each becomes its name's champion."""
    tracking = tracking_from(settings)
    base_uri, base_sha = put_model(store, data.base_manifest)
    golden_uri, _ = put_model(store, data.golden_manifest)
    line_tags = {"image_size": str(data.image_size), "source": data.source}
    fit_train, fit_val = split(data.train)
    train = Training(data.classes, fit_train, fit_val, registry, tracking, say)
    versions = [
        train.register(
            settings.mlflow.model_name,
            CHAMPION_RECIPE,
            data.golden,
            tags={
                **line_tags,
                "manifest_uri": base_uri,
                "manifest_sha256": base_sha,
                "golden_manifest_uri": golden_uri,
            },
        )
    ]
    stress = stressed(data.golden, seed=seed)
    for (role, recipe), name in zip(
        REFEREE_RECIPES.items(), settings.mlflow.referee_names, strict=True
    ):
        tags = {**line_tags, "role": f"referee {role}"}
        versions.append(train.register(name, recipe, stress, tags=tags, vet=True))
    return versions


@dataclass(frozen=True)
class Training:
    """One line's training data and where its models are recorded."""

    classes: tuple[str, ...]
    data: LabeledImages
    val: LabeledImages
    registry: ModelRegistry
    tracking: Tracking
    say: Say

    def register(
        self,
        name: str,
        recipe: Recipe,
        check: LabeledImages,
        *,
        tags: dict[str, str],
        vet: bool = False,
    ) -> ModelVersion:
        say, tracking = self.say, self.tracking
        run_id = tracking.start_run(f"bootstrap-{name}", tags={"stage": "bootstrap", **tags})
        config = recipe.for_images(len(self.data))
        tracking.log_params(
            run_id, {"arch": recipe.arch, "balance": recipe.balance, **vars(config)}
        )

        def on_epoch(stats: EpochStats) -> None:
            tracking.log_metric(run_id, "val_accuracy", stats.val_accuracy, step=stats.epoch)
            tracking.log_metric(run_id, "train_loss", stats.train_loss, step=stats.epoch)
            say(
                f"bootstrap: {name} ({recipe.arch}) epoch {stats.epoch}/{stats.epochs} "
                f"loss {stats.train_loss:.3f} val accuracy {stats.val_accuracy:.3f}"
            )

        model, _ = fit(recipe, self.data, self.val, classes=len(self.classes), on_epoch=on_epoch)
        if vet:
            check_referee(model, check.x, check.y)
        check_acc = accuracy(model, check.x, check.y)
        tracking.log_metric(run_id, "check_accuracy", check_acc)
        mv = self.registry.register(
            name,
            weights_bytes(model),
            arch=recipe.arch,
            classes=self.classes,
            run_id=run_id,
            tags=tags,
        )
        self.registry.set_alias(name, CHAMPION, mv.version)
        tracking.end_run(run_id)
        say(
            f"bootstrap: registered {name} v{mv.version} ({recipe.arch}), "
            f"accuracy on its check set {check_acc:.3f}"
        )
        return mv


def split(data: LabeledImages) -> tuple[LabeledImages, LabeledImages]:
    val = [i % VAL_EVERY == 0 for i in range(len(data))]
    keep = [not v for v in val]
    return LabeledImages(data.x[keep], data.y[keep]), LabeledImages(data.x[val], data.y[val])


def manifest(
    name: str,
    data: LabeledImages,
    store: ImageStore,
    *,
    split_val: bool = False,
    default: Split = Split.TRAIN,
) -> DatasetManifest:
    entries = []
    for i, (image, label) in enumerate(zip(data.x, data.y, strict=True)):
        png = encode_png(image)
        which = Split.VAL if split_val and i % VAL_EVERY == 0 else default
        entries.append(
            ManifestEntry(
                sha256=sha256_of(png),
                uri=store.put(png),
                label=CLASSES[label],
                split=which,
                source=name,
            )
        )
    return DatasetManifest(name=name, classes=list(CLASSES), entries=entries)
