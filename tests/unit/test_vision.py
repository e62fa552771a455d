"""Models are built, trained, saved and loaded back without surprises."""

from __future__ import annotations

import pathlib
import pickle

import numpy as np
import pytest
import torch

from services.common.augment import GENERIC, augment
from services.common.training import EpochStats, TrainConfig, train
from services.common.vision import (
    ARCHITECTURES,
    CLASSES,
    ModelIntegrityError,
    accuracy,
    build_model,
    load_weights,
    predict,
    sha256_hex,
    weights_bytes,
)


def _easy_task(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Half dark noise (OK), half with a bright square somewhere (NG)."""
    rng = np.random.default_rng(seed)
    x = (rng.random((n, 32, 32)) * 0.2).astype(np.float32)
    y = (np.arange(n) % 2).astype(np.int64)
    for i in np.flatnonzero(y):
        r, c = rng.integers(4, 24, size=2)
        x[i, r : r + 6, c : c + 6] = 1.0
    return x, y


QUICK = TrainConfig(epochs=2, lr=3e-3, batch_size=32, seed=0)


def test_every_architecture_takes_a_gray_32px_part_and_scores_both_classes() -> None:
    batch = torch.zeros(2, 1, 32, 32)

    for arch in ARCHITECTURES:
        model = build_model(arch, seed=0).eval()
        assert model(batch).shape == (2, len(CLASSES)), arch


def test_an_unknown_architecture_is_refused_with_the_known_names() -> None:
    with pytest.raises(ValueError, match="cnn_small"):
        build_model("vgg_huge")


def test_the_same_seed_builds_the_same_model_without_touching_global_rng() -> None:
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)

    a, b = build_model("cnn_small", seed=7), build_model("cnn_small", seed=7)

    assert weights_bytes(a) == weights_bytes(b)
    assert torch.equal(torch.rand(1), expected_next)


def test_predict_returns_a_class_and_a_confidence_per_image() -> None:
    images = np.random.default_rng(0).random((5, 32, 32), dtype=np.float32)

    classes, confidence = predict(build_model("cnn_small", seed=0), images, batch_size=2)

    assert classes.dtype == np.int64 and classes.shape == (5,)
    assert confidence.dtype == np.float32 and np.all((confidence >= 0.5) & (confidence <= 1.0))


def test_training_learns_an_easy_task_and_reports_each_epoch() -> None:
    x, y = _easy_task(256, seed=0)
    x_val, y_val = _easy_task(128, seed=1)
    model = build_model("cnn_small", seed=0)
    before = accuracy(model, x_val, y_val)
    seen: list[EpochStats] = []

    history = train(model, x, y, x_val, y_val, config=QUICK, on_epoch=seen.append)

    assert seen == history and [s.epoch for s in history] == [1, 2]
    assert history[-1].val_accuracy >= 0.9 > before
    assert not model.training


def test_training_is_deterministic_for_a_seed() -> None:
    x, y = _easy_task(96, seed=2)
    blobs = []
    for _ in range(2):
        model = build_model("cnn_wide", seed=0)
        train(model, x, y, x, y, config=TrainConfig(epochs=1, batch_size=32, augment=True))
        blobs.append(weights_bytes(model))

    assert blobs[0] == blobs[1]


def test_sample_weights_decide_what_the_model_sees() -> None:
    # Only the NG half carries weight, so training never shows an OK part.
    x, y = _easy_task(128, seed=3)
    model = build_model("cnn_small", seed=0)

    train(model, x, y, x, y, config=QUICK, sample_weight=y.astype(np.float64))

    assert np.all(predict(model, x)[0] == 1)


def test_augmentation_changes_most_images_but_keeps_the_range() -> None:
    x = torch.rand(400, 1, 32, 32) * 0.5
    generator = torch.Generator().manual_seed(0)

    out = augment(x, generator, GENERIC)

    untouched = (out == x).flatten(1).all(dim=1).float().mean().item()
    assert 0.25 < untouched < 0.45  # 20% left clean, and the 18% no operation touched
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert ((out - x).abs().flatten(1).amax(dim=1) > 0.1).float().mean() > 0.5


def test_weights_round_trip_gives_identical_predictions() -> None:
    model = build_model("cnn_wide", seed=0).eval()
    images = np.random.default_rng(4).random((16, 32, 32), dtype=np.float32)
    blob = weights_bytes(model)

    loaded = load_weights("cnn_wide", blob, sha256=sha256_hex(blob))

    assert not loaded.training
    for before, after in zip(predict(model, images), predict(loaded, images), strict=True):
        np.testing.assert_array_equal(before, after)


def test_a_tampered_weights_blob_is_refused() -> None:
    blob = weights_bytes(build_model("cnn_small", seed=0))
    digest = sha256_hex(blob)
    tampered = blob[:-100] + bytes([blob[-100] ^ 0xFF]) + blob[-99:]

    with pytest.raises(ModelIntegrityError, match="digest"):
        load_weights("cnn_small", tampered, sha256=digest)


def test_weights_for_another_architecture_are_refused() -> None:
    blob = weights_bytes(build_model("cnn_small", seed=0))

    with pytest.raises(ModelIntegrityError, match="cnn_wide"):
        load_weights("cnn_wide", blob, sha256=sha256_hex(blob))


class _Payload:
    """A pickle that would create a file if it were ever unpickled with code execution."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[pathlib.Path]]:
        return (pathlib.Path.touch, (self.marker,))


def test_a_pickle_with_code_is_never_executed_even_with_a_matching_digest(
    tmp_path: pathlib.Path,
) -> None:
    marker = tmp_path / "pwned"
    blob = pickle.dumps(_Payload(marker), protocol=2)

    with pytest.raises(ModelIntegrityError):
        load_weights("cnn_small", blob, sha256=sha256_hex(blob))

    assert not marker.exists()


def test_predictions_are_made_in_eval_mode_whatever_mode_a_module_was_left_in() -> None:
    model = build_model("cnn_wide", seed=0)  # BatchNorm: training mode judges by the batch
    images = np.random.default_rng(1).random((16, 32, 32)).astype(np.float32)
    expected = predict(model.eval(), images)
    model.train()
    assert all(np.array_equal(a, b) for a, b in zip(predict(model, images), expected, strict=True))
    model.eval()
    model[1][1].train()  # one BatchNorm of the second block only
    assert all(np.array_equal(a, b) for a, b in zip(predict(model, images), expected, strict=True))
    assert not any(m.training for m in model.modules())
