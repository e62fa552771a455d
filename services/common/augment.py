"""A generic augmentation for models that must shrug off a changing camera and light.

In the spirit of RandAugment: a fixed menu of photometric and geometric operations, each applied
to a sample with probability `p` at a random magnitude within its range, so that no one drift is
favoured. What the ranges cover, and what they do not, is written down in docs/drifts.md."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

Range = tuple[float, float]


@dataclass(frozen=True)
class Augmentation:
    """Operations and their ranges, applied in this order to each sample of a batch."""

    p: float = 0.25  # chance that each operation touches a sample (about two of seven each)
    rotate_deg: float = 15.0  # rotation by up to this many degrees either way
    translate: float = 0.15  # shift by up to this share of the image side, each axis
    scale: Range = (0.9, 1.1)
    gain: Range = (0.4, 2.0)  # exposure, clipped at white
    contrast: Range = (0.3, 1.0)  # share of the range kept, placed at a random offset
    gamma: Range = (0.6, 1.6)
    blur_sigma: Range = (0.5, 2.0)  # Gaussian blur, in pixels
    noise: Range = (0.0, 0.15)  # Gaussian sensor noise, standard deviation
    clean_share: float = 0.2  # samples left untouched whatever was drawn


GENERIC = Augmentation()


def _draw(n: int, span: Range, generator: torch.Generator) -> torch.Tensor:
    """n per-sample factors in [low, high), shaped to broadcast over (N, 1, H, W)."""
    low, high = span
    return (low + (high - low) * torch.rand(n, 1, 1, 1, generator=generator)).float()


def _chosen(n: int, p: float, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, 1, 1, 1, generator=generator) < p


def _affine(x: torch.Tensor, spec: Augmentation, generator: torch.Generator) -> torch.Tensor:
    """Rotation, translation and scale about the centre; the border pixels fill what comes in."""
    n = x.shape[0]
    angle = _draw(n, (-spec.rotate_deg, spec.rotate_deg), generator).view(n) * math.pi / 180
    scale = _draw(n, spec.scale, generator).view(n)
    shift = _draw(n, (-2 * spec.translate, 2 * spec.translate), generator).view(n, 1)
    shift = torch.cat(
        [shift, _draw(n, (-2 * spec.translate, 2 * spec.translate), generator).view(n, 1)], dim=1
    )
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
    return nn.functional.grid_sample(x, grid, padding_mode="border", align_corners=False)


def _blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """A separable Gaussian blur of its own sigma for each sample (reflecting the border)."""
    n, _, h, w = x.shape
    radius = 4
    taps = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (taps.view(1, -1) / sigma.view(n, 1)) ** 2)
    kernel = kernel / kernel.sum(dim=1, keepdim=True)
    rows = nn.functional.pad(x.view(1, n, h, w), (radius, radius, 0, 0), mode="reflect")
    rows = nn.functional.conv2d(rows, kernel.view(n, 1, 1, -1), groups=n)
    cols = nn.functional.pad(rows, (0, 0, radius, radius), mode="reflect")
    return nn.functional.conv2d(cols, kernel.view(n, 1, -1, 1), groups=n).view(n, 1, h, w)


def augment(x: torch.Tensor, generator: torch.Generator, spec: Augmentation) -> torch.Tensor:
    """A randomly changed copy of an (N, 1, H, W) batch in [0, 1]; the range is kept."""
    n = x.shape[0]

    def maybe(changed: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
        return torch.where(_chosen(n, spec.p, generator), changed, current)

    out = maybe(_affine(x, spec, generator), x)
    out = maybe(torch.clamp(out * _draw(n, spec.gain, generator), 0.0, 1.0), out)
    kept = _draw(n, spec.contrast, generator)
    lift = (1.0 - kept) * torch.rand(n, 1, 1, 1, generator=generator)
    out = maybe(lift + kept * out, out)
    out = maybe(out.clamp_min(1e-6) ** _draw(n, spec.gamma, generator), out)
    out = maybe(_blur(out, _draw(n, spec.blur_sigma, generator)), out)
    noise = _draw(n, spec.noise, generator) * torch.randn(out.shape, generator=generator)
    out = maybe(torch.clamp(out + noise, 0.0, 1.0), out)
    clean = _chosen(n, spec.clean_share, generator)
    return torch.where(clean, x, torch.clamp(out, 0.0, 1.0))
