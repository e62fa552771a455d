"""Inspection models: build, predict, and save/load weights safely."""

from __future__ import annotations

import hashlib
import hmac
import io
from collections.abc import Callable, Mapping
from types import MappingProxyType

import numpy as np
import torch
import torchvision
from torch import nn

from services.common.registry import IntegrityError

CLASSES: tuple[str, ...] = ("OK", "NG")
IMAGE_SIZE = 32


class ModelIntegrityError(IntegrityError):
    """A weights blob does not match its digest or does not fit the architecture."""


def _conv_block(c_in: int, c_out: int, *, norm: bool) -> nn.Sequential:
    """3x3 conv, optional BatchNorm, ReLU, then halve the resolution."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers += [nn.ReLU(inplace=True), nn.MaxPool2d(2)]
    return nn.Sequential(*layers)


def _cnn(widths: tuple[int, int, int], num_classes: int, *, norm: bool, size: int) -> nn.Module:
    """Three conv blocks (each halves the side: 32 -> 4 px) and a small dense head."""
    if size < 8 or size % 8:
        raise ValueError(f"image size must be a multiple of 8, got {size}")
    c1, c2, c3 = widths
    return nn.Sequential(
        _conv_block(1, c1, norm=norm),
        _conv_block(c1, c2, norm=norm),
        _conv_block(c2, c3, norm=norm),
        nn.Flatten(),
        nn.Linear(c3 * (size // 8) ** 2, 64),
        nn.ReLU(inplace=True),
        nn.Linear(64, num_classes),
    )


def cnn_small(num_classes: int, size: int = IMAGE_SIZE) -> nn.Module:
    """The serving model: 16/32/64 channels, no normalisation."""
    return _cnn((16, 32, 64), num_classes, norm=False, size=size)


def cnn_wide(num_classes: int, size: int = IMAGE_SIZE) -> nn.Module:
    """A wider referee: 32/64/128 channels with BatchNorm."""
    return _cnn((32, 64, 128), num_classes, norm=True, size=size)


def resnet18_gray(num_classes: int, size: int = IMAGE_SIZE) -> nn.Module:
    """torchvision ResNet-18 with a 1-channel stem sized for 32x32 input (any size works: it
    pools adaptively)."""
    model: nn.Module = torchvision.models.resnet18(weights=None, num_classes=num_classes)
    # Gray input; a 3x3 stem instead of 7x7 since 32 px parts have no large-scale context.
    # Stride 4 (stem + max-pool) is kept: a CIFAR-style stride-1 stem costs ~6x the compute,
    # too slow for a referee trained on 2 CPU cores.
    model.conv1 = nn.Conv2d(1, 64, kernel_size=3, stride=2, padding=1, bias=False)
    return model


ARCHITECTURES: Mapping[str, Callable[[int, int], nn.Module]] = MappingProxyType(
    {"cnn_small": cnn_small, "cnn_wide": cnn_wide, "resnet18": resnet18_gray}
)


def build_model(
    arch: str,
    num_classes: int = len(CLASSES),
    *,
    seed: int | None = None,
    image_size: int = IMAGE_SIZE,
) -> nn.Module:
    """A freshly initialised model for square gray images of `image_size` px; with a seed,
    initialisation is reproducible."""
    builder = ARCHITECTURES.get(arch)
    if builder is None:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}")
    if seed is None:
        return builder(num_classes, image_size)
    # fork_rng keeps the caller's global RNG stream untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return builder(num_classes, image_size)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, H, W) float images in [0, 1] as an (N, 1, H, W) float32 tensor."""
    if images.ndim != 3:
        raise ValueError(f"expected images shaped (N, H, W), got {images.shape}")
    return torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).unsqueeze(1)


def predict(
    model: nn.Module, images: np.ndarray, *, batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Class indices (int64) and max softmax confidence (float32) per image."""
    indices, confidences, _ = predict_with_margin(model, images, batch_size=batch_size)
    return indices, confidences


def predict_with_margin(
    model: nn.Module, images: np.ndarray, *, batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class indices, max softmax confidence, and its margin over the runner-up, per image.
    The model is put in eval mode if any of its modules is not: looking costs a fifth of
    setting every module again, which a single upload would otherwise pay each time."""
    if any(module.training for module in model.modules()):
        model.eval()
    batches = torch.split(to_tensor(images), batch_size)
    tops = []
    with torch.inference_mode():
        for batch in batches:
            probs = torch.softmax(model(batch), dim=1)
            tops.append(probs.topk(min(2, probs.shape[1]), dim=1))
    if not tops:
        empty = np.zeros(0, dtype=np.float32)
        return np.zeros(0, dtype=np.int64), empty, empty
    values = torch.cat([t.values for t in tops])
    indices = torch.cat([t.indices[:, 0] for t in tops])
    runner_up = values[:, 1] if values.shape[1] > 1 else torch.zeros_like(values[:, 0])
    return (
        indices.numpy().astype(np.int64),
        values[:, 0].numpy().astype(np.float32),
        (values[:, 0] - runner_up).numpy().astype(np.float32),
    )


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """Share of images whose predicted class equals the label."""
    if len(y) == 0:
        raise ValueError("accuracy of an empty set is undefined")
    predicted, _ = predict(model, x)
    return float(np.mean(predicted == y))


def weights_bytes(model: nn.Module) -> bytes:
    """The model's state_dict serialised with torch.save."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 digest, the identity of a weights blob."""
    return hashlib.sha256(data).hexdigest()


def load_weights(
    arch: str,
    data: bytes,
    *,
    sha256: str,
    num_classes: int = len(CLASSES),
    image_size: int = IMAGE_SIZE,
) -> nn.Module:
    """Verify the digest, then load tensors only (no pickled code) into a fresh model."""
    if not hmac.compare_digest(sha256_hex(data), sha256.strip().lower()):
        raise ModelIntegrityError(f"weights digest mismatch for {arch!r}")
    model = build_model(arch, num_classes, image_size=image_size)
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
    except Exception as exc:  # torch raises several unrelated types for a bad blob
        raise ModelIntegrityError(f"weights do not load into {arch!r}: {exc}") from exc
    return model.eval()
