"""Image statistics of a stack are those of each image alone, whatever else is in the stack."""

from __future__ import annotations

import numpy as np
import pytest

from services.common.image_stats import batch_stats, image_stats, quantiles


def test_a_dot_in_the_lower_right_quarter_is_placed_there() -> None:
    image = np.zeros((8, 8))
    image[6, 5] = 1.0
    stats = image_stats(image)
    assert stats["mean"] == pytest.approx(1 / 64)
    assert stats["centre_row"] == pytest.approx(6.5 / 8 - 0.5)
    assert stats["centre_col"] == pytest.approx(5.5 / 8 - 0.5)
    assert stats["dark"] == 0.0 and stats["bright"] == pytest.approx(0.37)


def test_each_image_of_a_stack_gets_its_own_statistics() -> None:
    rng = np.random.default_rng(3)
    stack = rng.random((5, 12, 12))
    stack[2] = 0.5  # flat: no ink, no edges
    together = batch_stats(stack)
    alone = [batch_stats(image[None])[0] for image in stack]
    assert all(t == pytest.approx(a) for t, a in zip(together, alone, strict=True))
    assert together[2] == {
        "mean": 0.5,
        "contrast": 0.0,
        "dark": 0.5,
        "bright": 0.5,
        "edges": 0.0,
        "centre_row": 0.0,
        "centre_col": 0.0,
    }
    assert len({round(s["mean"], 9) for s in together}) == 5


@pytest.mark.parametrize("width", [1, 2, 7, 64, 1024])
def test_quantiles_are_numpys_to_the_bit(width: int) -> None:
    rng = np.random.default_rng(width)
    rows = rng.random((6, width))
    rows[0] = 0.25  # ties everywhere
    qs = (0.0, 0.10, 0.5, 0.99, 1.0)
    found = quantiles(rows, qs)
    for q, column in zip(qs, found, strict=True):
        assert column.tolist() == np.quantile(rows, q, axis=1).tolist()


def test_each_statistic_is_its_plain_definition() -> None:
    rng = np.random.default_rng(5)
    stack = rng.random((4, 9, 13)).astype(np.float32)
    for image, stats in zip(stack.astype(np.float64), batch_stats(stack), strict=True):
        ink = np.maximum(image - image.mean(), 0.0)
        rows, cols = np.indices(image.shape) + 0.5
        assert stats == pytest.approx(
            {
                "mean": image.mean(),
                "contrast": image.std(),
                "dark": np.percentile(image, 10),
                "bright": np.percentile(image, 99),
                "edges": (
                    np.abs(np.diff(image, axis=0)).mean() + np.abs(np.diff(image, axis=1)).mean()
                )
                / 2,
                "centre_row": (ink * rows).sum() / ink.sum() / 9 - 0.5,
                "centre_col": (ink * cols).sum() / ink.sum() / 13 - 0.5,
            },
            rel=1e-12,
            abs=1e-12,
        )
