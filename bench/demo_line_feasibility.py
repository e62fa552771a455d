"""Feasibility of the demo line over the drift zoo: champion, referees, committee and fine-tune.

Run: python bench/demo_line_feasibility.py [--seed N] [--strength S] [--drift KIND ...]
                                           [--models DIR]  (keeps trained models there)
The champion and both referees are trained by their recipes (as bootstrap does). Per drift, the
committee labels 600 drifted parts ("recent") under the configured selection rule and the
out-of-depth check; the trainer's own fine-tune (services.trainer.fit, with the configured
settings) learns from the curated dataset, and from the same recent parts with their true labels
(the oracle). Every model is scored on 600 later drifted parts no model saw, and on the golden set.
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from schemas.datasets import DatasetManifest
from services.common.images import encode_png
from services.common.settings import load_settings
from services.common.store import InMemoryImageStore, sha256_of
from services.common.vision import CLASSES, build_model, predict_with_margin
from services.curator.config import CuratorConfig, CuratorSettings
from services.curator.domain import RefereeView, curate, depth
from services.curator.selection import Candidate, Labelled, Vote, select
from services.trainer.config import TrainerConfig, TrainerSettings
from services.trainer.fit import fine_tune, training_set
from yieldloop.bootstrap_models import manifest, split
from yieldloop.demo_line import (
    DEFAULT_DRIFT_STRENGTH,
    DemoLine,
    LabeledImages,
    base_sets,
    to_labeled,
)
from yieldloop.drifts import DRIFTS
from yieldloop.recipes import (
    CHAMPION_RECIPE,
    REFEREE_RECIPES,
    Recipe,
    check_referee,
    fit,
    stressed,
)

NG = 1


def scores(model: nn.Module, data: LabeledImages) -> str:
    """Accuracy / NG recall."""
    predicted, _, _ = predict_with_margin(model, data.x)
    return f"{np.mean(predicted == data.y):.3f}/{np.mean(predicted[data.y == NG] == NG):.2f}"


def accuracy(model: nn.Module, data: LabeledImages) -> float:
    predicted, _, _ = predict_with_margin(model, data.x)
    return float(np.mean(predicted == data.y))


def votes(model: nn.Module, data: LabeledImages) -> list[Vote]:
    labels, confidences, margins = predict_with_margin(model, data.x)
    return [
        Vote(CLASSES[i], float(c), float(m))
        for i, c, m in zip(labels, confidences, margins, strict=True)
    ]


def stored(data: LabeledImages, store: InMemoryImageStore) -> list[Candidate]:
    pngs = [encode_png(image) for image in data.x]
    return [Candidate(sha256_of(png), store.put(png)) for png in pngs]


def tuned(
    champion: nn.Module,
    kept: Sequence[Labelled],
    previous: DatasetManifest,
    store: InMemoryImageStore,
    curator: CuratorConfig,
    trainer: TrainerConfig,
) -> nn.Module:
    """The champion fine-tuned as an iteration would: curated, merged, split, trained."""
    dataset = curate(
        kept, iteration_id="bench", previous=previous, classes=CLASSES, policy=curator.policy()
    )
    data = training_set(
        dataset, store, classes=CLASSES, size=32, iteration_id="bench", config=trainer
    )
    model = copy.deepcopy(champion)
    fine_tune(model, data, config=trainer)
    return model


def trained(
    name: str, recipe: Recipe, data: LabeledImages, val: LabeledImages, keep: Path | None
) -> nn.Module:
    """Trained by its recipe, or loaded from `keep` where an earlier run left it."""
    path = keep / f"{name.replace(' ', '-')}.pt" if keep else None
    if path is not None and path.exists():
        model = build_model(recipe.arch, seed=recipe.config.seed)
        model.load_state_dict(torch.load(path, weights_only=True))
        return model.eval()
    started = time.perf_counter()
    model, _ = fit(recipe, data, val)
    print(f"{name} {recipe.arch} trained in {time.perf_counter() - started:.0f} s")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), path)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strength", type=float, default=DEFAULT_DRIFT_STRENGTH)
    parser.add_argument("--drift", nargs="*", choices=sorted(DRIFTS), default=list(DRIFTS))
    parser.add_argument("--models", type=Path, help="keep the trained models here, reuse them")
    args = parser.parse_args()
    curator = load_settings(CuratorSettings).curator
    trainer = load_settings(TrainerSettings).trainer
    train, golden = base_sets(args.seed)
    fit_train, fit_val = split(train)
    champion = trained("champion", CHAMPION_RECIPE, fit_train, fit_val, args.models)
    stress, referees = stressed(golden, seed=args.seed), []
    for name, recipe in REFEREE_RECIPES.items():
        model = trained(f"referee {name}", recipe, fit_train, fit_val, args.models)
        check_referee(model, stress.x, stress.y)
        print(f"referee {name} on the stress set {scores(model, stress)}")
        referees.append(model)
    store = InMemoryImageStore()
    previous = manifest("base", train, store, split_val=True)
    golden_labels = [CLASSES[i] for i in golden.y]
    print(
        f"\nacc/NG recall; rule {curator.selection}, strength {args.strength}; golden:"
        f" champion {scores(champion, golden)}"
    )
    for kind in args.drift:
        line = DemoLine(seed=args.seed, drift_kind=kind, drift_strength=args.strength)
        recent, later = (to_labeled(line.parts(600, drift=True)) for _ in range(2))
        candidates = stored(recent, store)
        views = [
            RefereeView(n, votes(m, recent), votes(m, golden))
            for n, m in zip(("B1", "B2"), referees, strict=True)
        ]
        judged = depth(views, golden_labels, curator.depth_policy())
        chosen = select(
            candidates, views[0].recent, views[1].recent, policy=curator.selection_policy()
        )
        truth = {c.sha256: CLASSES[y] for c, y in zip(candidates, recent.y, strict=True)}
        right = [truth[k.sha256] == k.label for k in chosen.kept]
        precision = float(np.mean(right)) if right else float("nan")
        oracle_kept = [Labelled(c.sha256, c.uri, truth[c.sha256]) for c in candidates]
        after = tuned(champion, chosen.kept, previous, store, curator, trainer)
        oracle = tuned(champion, oracle_kept, previous, store, curator, trainer)
        ratio = accuracy(after, later) / accuracy(oracle, later)
        print(f"{kind:13s} depth {', '.join(f'{k} {v:.3g}' for k, v in judged.figures.items())}")
        print(
            f"{kind:13s} champion {scores(champion, later)}"
            f" B1 {scores(referees[0], later)} B2 {scores(referees[1], later)}"
            f" | kept {len(chosen.kept)} precision {precision:.3f}"
            f" out-of-depth {'yes' if judged.out else 'no'}"
            f" | after {scores(after, later)} golden {scores(after, golden)}"
            f" | oracle {scores(oracle, later)} after/oracle {ratio:.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
