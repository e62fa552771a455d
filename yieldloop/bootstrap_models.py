"""`yieldloop bootstrap`: the first champion and the two referees, trained on the clean base set
and registered in MLflow, with the datasets they saw kept as manifests in the image store."""

from __future__ import annotations

from collections.abc import Callable

from schemas.datasets import DatasetManifest, ManifestEntry, Split
from services.common.images import encode_png
from services.common.models import registry_from
from services.common.registry import CHAMPION, ModelRegistry, ModelVersion
from services.common.settings import CommonSettings
from services.common.store import ImageStore, LocalImageStore, put_model, sha256_of
from services.common.tracking import Tracking, tracking_from
from services.common.training import EpochStats
from services.common.vision import CLASSES, accuracy, weights_bytes
from yieldloop.demo_line import LabeledImages, base_sets, referee_sets
from yieldloop.recipes import CHAMPION_RECIPE, REFEREE_RECIPES, Recipe, check_referee, fit

Say = Callable[[str], None]
VAL_EVERY = 10  # every tenth base image validates instead of trains


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
    tracking = tracking_from(settings)
    train, golden = base_sets(seed)
    base_uri, base_sha = put_model(store, manifest("base", train, store, split_val=True))
    golden_uri, _ = put_model(store, manifest("golden", golden, store, default=Split.GOLDEN))
    fit_train, fit_val = split(train)
    tags = {
        "manifest_uri": base_uri,
        "manifest_sha256": base_sha,
        "golden_manifest_uri": golden_uri,
    }
    champion = train_and_register(
        settings.mlflow.model_name,
        CHAMPION_RECIPE,
        fit_train,
        fit_val,
        golden,
        registry=registry,
        tracking=tracking,
        say=say,
        tags=tags,
    )
    versions = [champion]
    ref_train, stress = referee_sets(seed)
    for (role, recipe), name in zip(
        REFEREE_RECIPES.items(), settings.mlflow.referee_names, strict=True
    ):
        r_train, r_val = split(ref_train)
        versions.append(
            train_and_register(
                name,
                recipe,
                r_train,
                r_val,
                stress,
                registry=registry,
                tracking=tracking,
                say=say,
                tags={"role": f"referee {role}"},
                vet=True,
            )
        )
    return versions


def train_and_register(
    name: str,
    recipe: Recipe,
    data: LabeledImages,
    val: LabeledImages,
    check: LabeledImages,
    *,
    registry: ModelRegistry,
    tracking: Tracking,
    say: Say,
    tags: dict[str, str],
    vet: bool = False,
) -> ModelVersion:
    run_id = tracking.start_run(f"bootstrap-{name}", tags={"stage": "bootstrap", **tags})
    tracking.log_params(run_id, {"arch": recipe.arch, **vars(recipe.config)})

    def on_epoch(stats: EpochStats) -> None:
        tracking.log_metric(run_id, "val_accuracy", stats.val_accuracy, step=stats.epoch)
        tracking.log_metric(run_id, "train_loss", stats.train_loss, step=stats.epoch)
        say(
            f"bootstrap: {name} ({recipe.arch}) epoch {stats.epoch}/{stats.epochs} "
            f"loss {stats.train_loss:.3f} val accuracy {stats.val_accuracy:.3f}"
        )

    model, _ = fit(recipe, data, val, on_epoch=on_epoch)
    if vet:
        check_referee(model, check.x, check.y)
    check_acc = accuracy(model, check.x, check.y)
    tracking.log_metric(run_id, "check_accuracy", check_acc)
    mv = registry.register(
        name, weights_bytes(model), arch=recipe.arch, classes=CLASSES, run_id=run_id, tags=tags
    )
    registry.set_alias(name, CHAMPION, mv.version)
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
