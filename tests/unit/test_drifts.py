"""The drift zoo: each kind changes the parts the way its name says (as the per-image statistics
the monitor watches see it), leaves labels alone, and does nothing at strength 0; the referees'
augmentation and the stress set they are vetted on."""

from __future__ import annotations

import numpy as np
import pytest

from services.common.image_stats import image_stats
from yieldloop.demo_line import DemoLine, base_sets, to_labeled
from yieldloop.drifts import DRIFTS, describe_drift, drift_named
from yieldloop.recipes import stressed


def mean_stats(kind: str | None, strength: float = 0.5) -> dict[str, float]:
    line = DemoLine(seed=2, drift_kind=kind or "overexposure", drift_strength=strength)
    parts = to_labeled(line.parts(150, drift=kind is not None))
    stats = [image_stats(image) for image in parts.x]
    return {name: float(np.mean([s[name] for s in stats])) for name in stats[0]}


@pytest.fixture(scope="module")
def clean() -> dict[str, float]:
    return mean_stats(None)


@pytest.mark.parametrize("kind", sorted(DRIFTS))
def test_strength_zero_changes_nothing_and_the_range_is_kept(kind: str) -> None:
    image = np.random.default_rng(0).random((32, 32)).astype(np.float32)
    drift = drift_named(kind)

    np.testing.assert_allclose(drift(image, 0.0, np.random.default_rng(0)), image, atol=1e-6)
    strong = drift(image, 1.0, np.random.default_rng(0))
    assert strong.shape == image.shape and strong.min() >= 0.0 and strong.max() <= 1.0
    with pytest.raises(ValueError, match="strength"):
        drift(image, 1.5, np.random.default_rng(0))


def test_each_kind_moves_the_statistics_it_should(clean: dict[str, float]) -> None:
    moved = {kind: mean_stats(kind) for kind in DRIFTS}

    assert moved["overexposure"]["mean"] > clean["mean"] * 1.3
    assert moved["underexposure"]["bright"] < clean["bright"] * 0.6
    assert moved["defocus"]["edges"] < clean["edges"] * 0.9
    assert moved["sensor_noise"]["edges"] > clean["edges"] * 1.5
    assert moved["stuck_pixels"]["edges"] > clean["edges"] * 1.1
    assert moved["camera_shift"]["centre_col"] > clean["centre_col"] + 0.05
    assert moved["washout"]["dark"] > clean["dark"] + 0.3
    assert moved["washout"]["contrast"] < clean["contrast"] * 0.7


@pytest.mark.parametrize("kind", sorted(DRIFTS))
def test_a_drifted_line_keeps_its_parts_and_labels(kind: str) -> None:
    clean = DemoLine(seed=4, drift_kind=kind).parts(40, drift=False)
    drifted = DemoLine(seed=4, drift_kind=kind).parts(40, drift=True)

    assert [p.label for p in drifted] == [p.label for p in clean]
    assert all(p.drifted for p in drifted)
    assert any(not np.array_equal(a.image, b.image) for a, b in zip(clean, drifted, strict=True))


def test_an_unknown_kind_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="washout"):
        DemoLine(drift_kind="fog")
    assert describe_drift("washout", 0.5).startswith("washout at strength 0.5 (stray light")


def test_the_stress_set_is_the_golden_set_changed_the_same_way_for_a_seed() -> None:
    _, golden = base_sets(0, train_size=10, golden_size=60)

    once, again = stressed(golden, seed=3), stressed(golden, seed=3)

    np.testing.assert_array_equal(once.x, again.x)
    np.testing.assert_array_equal(once.y, golden.y)
    changed = np.abs(once.x - golden.x).reshape(60, -1).max(axis=1) > 0.05
    assert 0.5 < changed.mean() < 1.0
