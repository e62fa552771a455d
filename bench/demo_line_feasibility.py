"""Feasibility of the demo line: champion, referees, committee and fine-tune in one run.

Run: python bench/demo_line_feasibility.py [--seed N] [--strength S]
Every model is scored on the golden set, 600 clean parts and 600 drifted parts that no model
trained on; the committee labels a separate batch of 600 drifted parts ("recent"), which the
fine-tune then learns from.
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from torch import nn

from services.common.vision import predict
from yieldloop.demo_line import (
    DEFAULT_DRIFT_STRENGTH,
    DemoLine,
    LabeledImages,
    base_sets,
    referee_sets,
    to_labeled,
)
from yieldloop.recipes import (
    CHAMPION_RECIPE,
    REFEREE_RECIPES,
    Recipe,
    check_referee,
    fine_tune,
    fine_tune_set,
    fit,
)

T = TypeVar("T")
HEADER = f"{'model':34s} {'arch':10s} {'train s':>7s} {'golden':>7s} " + " ".join(
    f"{c:>8s}" for c in ("NG rec", "clean", "yield", "drifted", "yield")
)
NG = 1


@dataclass(frozen=True)
class Scene:
    """Everything measured on: base sets and batches from the line."""

    train: LabeledImages
    golden: LabeledImages
    referee_train: LabeledImages
    stress: LabeledImages
    clean: LabeledImages
    recent: LabeledImages  # drifted parts the committee labels and the fine-tune learns from
    drifted: LabeledImages  # later drifted parts, held out from everything


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """Result and wall seconds."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def scene(seed: int, strength: float) -> Scene:
    """Base sets plus 600 clean and 2 x 600 drifted parts from the line."""
    train, golden = base_sets(seed)
    referee_train, stress = referee_sets(seed)
    line = DemoLine(seed=seed, drift_strength=strength)
    batches = [to_labeled(line.parts(600, drift=d)) for d in (False, True, True)]
    return Scene(train, golden, referee_train, stress, *batches)


def row(name: str, arch: str, secs: float, model: nn.Module, s: Scene) -> str:
    """One table row: accuracy everywhere, yield (share passed as OK) on the line."""
    cells = []
    for data in (s.golden, s.clean, s.drifted):
        predicted, _ = predict(model, data.x)
        cells += [np.mean(predicted == data.y), np.mean(predicted == 0)]
    golden_pred, _ = predict(model, s.golden.x)
    ng_recall = np.mean(golden_pred[s.golden.y == NG] == NG)
    numbers = [cells[0], ng_recall, *cells[2:]]
    return f"{name:34s} {arch:10s} {secs:7.1f} " + " ".join(f"{v:8.3f}" for v in numbers)


def train_referee(name: str, recipe: Recipe, s: Scene) -> tuple[nn.Module, float]:
    """Train and vet one referee, as bootstrap does."""
    (model, _), secs = timed(lambda: fit(recipe, s.referee_train, s.stress))
    check_referee(model, s.stress.x, s.stress.y)
    return model, secs


def committee(referees: list[nn.Module], data: LabeledImages, threshold: float) -> np.ndarray:
    """Committee labels, -1 where the referees disagree or are not confident enough."""
    (p1, c1), (p2, c2) = (predict(m, data.x) for m in referees)
    keep = (p1 == p2) & (c1 >= threshold) & (c2 >= threshold)
    return np.where(keep, p1, -1)


def committee_line(labels: np.ndarray, data: LabeledImages, threshold: float) -> str:
    """Kept count and the share of kept labels that are right."""
    kept = labels >= 0
    precision = np.mean(labels[kept] == data.y[kept]) if kept.any() else float("nan")
    return (
        f"committee >= {threshold:.2f}: kept {kept.sum()}/{len(labels)}, precision {precision:.3f}"
    )


def tuned(
    champion: nn.Module, s: Scene, recent: LabeledImages, *, ng_weight: float = 1.0
) -> tuple[nn.Module, float]:
    """A copy of the champion fine-tuned on base train + recent samples (up-weighted), with
    defects drawn `ng_weight` times as often, as the trainer's class_weights do."""
    model = copy.deepcopy(champion)
    merged, weights = fine_tune_set(s.train, recent)
    weights = weights * np.where(merged.y == NG, ng_weight, 1.0)
    _, secs = timed(lambda: fine_tune(model, merged, s.golden, sample_weight=weights))
    return model, secs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strength", type=float, default=DEFAULT_DRIFT_STRENGTH)
    args = parser.parse_args()
    s, secs = timed(lambda: scene(args.seed, args.strength))
    print(f"data {secs:.1f}s, drift strength {args.strength}, accuracy unless marked yield\n")
    print(HEADER)
    (champion, _), secs = timed(lambda: fit(CHAMPION_RECIPE, s.train, s.golden))
    print(row("champion", CHAMPION_RECIPE.arch, secs, champion, s))
    referees = []
    for name, recipe in REFEREE_RECIPES.items():
        model, secs = train_referee(name, recipe, s)
        print(row(f"referee {name}", recipe.arch, secs, model, s))
        referees.append(model)
    labels = committee(referees, s.recent, 0.7)
    kept = labels >= 0
    for title, y in (("committee", labels[kept]), ("true", s.recent.y[kept])):
        for ng_weight in (1.0, 5.0):
            recent = LabeledImages(s.recent.x[kept], y)
            model, secs = tuned(champion, s, recent, ng_weight=ng_weight)
            name = f"fine-tuned, {title} labels, NG x{ng_weight:.0f}"
            print(row(name, CHAMPION_RECIPE.arch, secs, model, s))
    print(f"\non {len(s.recent)} recent drifted parts:")
    for threshold in (0.7, 0.95):
        print(committee_line(committee(referees, s.recent, threshold), s.recent, threshold))


if __name__ == "__main__":
    main()
