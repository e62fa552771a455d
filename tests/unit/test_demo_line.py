"""The demo line is reproducible, realistic enough, and drifts; the recipes guard the referees."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from services.common.vision import CLASSES
from yieldloop.demo_line import (
    DEFECTS,
    DemoLine,
    LabeledImages,
    base_sets,
    to_labeled,
)
from yieldloop.drifts import overexpose
from yieldloop.recipes import CHAMPION_RECIPE, REFEREE_RECIPES, check_referee


def test_the_same_seed_gives_the_same_parts_and_calls_continue_the_stream() -> None:
    one_go = DemoLine(seed=3).parts(10, drift=False)
    line = DemoLine(seed=3)
    in_two = line.parts(4, drift=False) + line.parts(6, drift=False)

    assert [p.image.tobytes() for p in one_go] == [p.image.tobytes() for p in in_two]
    assert [p.label for p in one_go] == [p.label for p in in_two]
    other = DemoLine(seed=4).parts(10, drift=False)
    assert [p.image.tobytes() for p in other] != [p.image.tobytes() for p in one_go]


def test_parts_are_uint8_images_and_about_ng_rate_of_them_are_defective() -> None:
    parts = DemoLine(seed=0, ng_rate=0.3).parts(1000, drift=False)

    assert all(p.image.dtype == np.uint8 and p.image.shape == (32, 32) for p in parts)
    ng = [p for p in parts if p.label == "NG"]
    assert abs(len(ng) / len(parts) - 0.3) < 0.04
    assert {p.defect for p in ng} == set(DEFECTS)
    assert all(p.defect is None for p in parts if p.label == "OK")


def test_drifted_parts_are_overexposed_versions_of_the_line() -> None:
    clean = DemoLine(seed=1).parts(200, drift=False)
    drifted = DemoLine(seed=1).parts(200, drift=True)

    assert all(p.drifted for p in drifted) and not any(p.drifted for p in clean)
    assert [p.label for p in drifted] == [p.label for p in clean]
    brightness = [np.mean([p.image.mean() for p in batch]) for batch in (clean, drifted)]
    assert brightness[1] > brightness[0] * 1.2


def test_overexposure_strength_zero_changes_nothing_and_out_of_range_is_refused() -> None:
    image = np.random.default_rng(0).random((32, 32)).astype(np.float32)
    rng = np.random.default_rng(0)

    np.testing.assert_allclose(overexpose(image, 0.0, rng), image)
    with pytest.raises(ValueError):
        overexpose(image, 1.5, rng)


def test_base_sets_are_deterministic_with_the_exact_ng_share() -> None:
    train, golden = base_sets(0, train_size=300, golden_size=100)
    again, _ = base_sets(0, train_size=300, golden_size=100)

    assert train.x.shape == (300, 32, 32) and train.x.dtype == np.float32
    assert train.y.dtype == np.int64 and golden.y.mean() == pytest.approx(0.15)
    np.testing.assert_array_equal(train.x, again.x)


def test_golden_digits_never_appear_in_training_or_on_the_line() -> None:
    # Compare defect-free parts: the stream and both sets draw from disjoint digit pools.
    train, golden = base_sets(0, train_size=400, golden_size=200, ng_rate=0.0)
    line = to_labeled(DemoLine(seed=0, ng_rate=0.0).parts(200, drift=False))

    def near_duplicates(a: LabeledImages, b: LabeledImages) -> int:
        distances = np.abs(a.x[:, None] - b.x[None]).mean(axis=(2, 3))
        return int((distances < 0.02).sum())

    assert near_duplicates(train, golden) == 0
    assert near_duplicates(line, golden) == 0


class _Constant(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tensor([[3.0, 0.0]]).expand(x.shape[0], 2)


class _Brightness(nn.Module):
    """Calls a part NG when it is brighter than `cut` on average."""

    def __init__(self, cut: float) -> None:
        super().__init__()
        self.cut = cut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = (x.mean(dim=(1, 2, 3)) - self.cut) * 100
        return torch.stack([-score, score], dim=1)


def test_a_collapsed_referee_is_refused() -> None:
    x = np.random.default_rng(0).random((50, 32, 32), dtype=np.float32)
    y = (np.arange(50) % 2).astype(np.int64)

    with pytest.raises(ValueError, match="collapsed"):
        check_referee(_Constant(), x, y)


def test_an_inaccurate_referee_is_refused_and_an_accurate_one_passes() -> None:
    y = (np.arange(40) % 2).astype(np.int64)
    x = np.where(y[:, None, None] == 1, 0.8, 0.2).astype(np.float32) * np.ones((40, 32, 32))

    check_referee(_Brightness(0.5), x, y)
    with pytest.raises(ValueError, match="below the floor"):
        check_referee(_Brightness(0.5), x, 1 - y)


def test_the_two_referees_use_different_architectures_and_augmentation() -> None:
    b1, b2 = REFEREE_RECIPES["B1"], REFEREE_RECIPES["B2"]

    assert b1.arch != b2.arch and b1.config.augment and b2.config.augment
    assert CHAMPION_RECIPE.arch == "cnn_small" and CLASSES == ("OK", "NG")
