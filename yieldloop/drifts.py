"""The drift zoo: ways a line's camera and light change, each with a strength in [0, 1].

Every drift maps a gray float image in [0, 1] to another; strength 0 changes nothing and 1 is
the most severe version the zoo knows. Photometric drifts act on intensities; `defocus` and
`camera_shift` are given in pixels of a 32 px image and scale with the image's side; the camera
shift moves every part the same way, as a knocked camera does. docs/drifts.md says which the
referees' augmentation covers, and up to which strength."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

import numpy as np
from scipy import ndimage

Drift = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]
DEFAULT_DRIFT = "overexposure"
DEFAULT_STRENGTH = 0.5


def _checked(strength: float) -> float:
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"drift strength must be in [0, 1], got {strength}")
    return strength


def _gauss_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with a zero border (background outside the frame)."""
    if sigma <= 0:
        return image
    return np.asarray(ndimage.gaussian_filter(image, sigma, mode="constant"), dtype=np.float32)


def _clip(image: np.ndarray) -> np.ndarray:
    clipped: np.ndarray = np.clip(image, 0.0, 1.0).astype(np.float32)
    return clipped


def _bloom(image: np.ndarray) -> np.ndarray:
    """5x5 Gaussian blur (sigma 1), zero padded."""
    taps = np.exp(-0.5 * np.arange(-2.0, 3.0) ** 2)
    taps /= taps.sum()
    rows = np.apply_along_axis(np.convolve, 1, image, taps, mode="same")
    return np.apply_along_axis(np.convolve, 0, rows, taps, mode="same").astype(np.float32)


def overexpose(image: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """A brighter light: gain up to 2.2 with clipping, 40% bloom and sensor noise 0.05."""
    s = _checked(strength)
    bright = np.clip(image * (1.0 + 1.2 * s), 0.0, 1.0)
    mix = 0.4 * s
    bloomed = (1.0 - mix) * bright + mix * _bloom(bright)
    noisy = bloomed + rng.normal(0.0, 0.05 * s, image.shape)
    return np.clip(noisy, 0.0, 1.0).astype(np.float32)


def underexpose(image: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Dim light: the light falls to 1 / (1 + 3 s) (0.4 at 0.5, a quarter at 1), and the
    sensor, pushed to see in the dark, adds noise up to 0.04."""
    s = _checked(strength)
    return _clip(image / (1.0 + 3.0 * s) + rng.normal(0.0, 0.04 * s, image.shape))


def _per_32px(image: np.ndarray) -> float:
    return float(max(image.shape)) / 32.0


def defocus(image: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """The lens out of focus: a Gaussian blur of sigma up to 1.6 px."""
    return _clip(_gauss_blur(image, 1.6 * _checked(strength) * _per_32px(image)))


def sensor_noise(image: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """A noisy sensor (heat, high gain): Gaussian read noise of sigma up to 0.2."""
    s = _checked(strength)
    return _clip(image + rng.normal(0.0, 0.2 * s, image.shape))


def stuck_pixels(image: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """A failing sensor: up to 2% of its pixels stuck black or white, in the same places on
    every image."""
    s = _checked(strength)
    where = np.random.default_rng([7, *image.shape])
    stuck = where.random(image.shape) < 0.02 * s
    return _clip(np.where(stuck, where.integers(0, 2, image.shape), image))


def camera_shift(image: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """The camera was knocked: rotated up to 16 degrees and moved up to 6 px right and 4 px up."""
    s = _checked(strength)
    if s == 0:
        return image
    rotated = ndimage.rotate(image, 16.0 * s, reshape=False, order=1, mode="nearest")
    px = s * _per_32px(image)
    return _clip(ndimage.shift(rotated, (-4.0 * px, 6.0 * px), order=1, mode="nearest"))


def washout(image: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Stray light over the scene: the background lifted to 0.8 s and the contrast down to
    1 - 0.9 s (0.4 and 0.55 at 0.5)."""
    s = _checked(strength)
    return _clip(0.8 * s + (1.0 - 0.9 * s) * image)


DRIFTS: Mapping[str, Drift] = MappingProxyType(
    {
        "overexposure": overexpose,
        "underexposure": underexpose,
        "defocus": defocus,
        "sensor_noise": sensor_noise,
        "camera_shift": camera_shift,
        "washout": washout,
        "stuck_pixels": stuck_pixels,
    }
)


def drift_named(kind: str) -> Drift:
    try:
        return DRIFTS[kind]
    except KeyError:
        raise ValueError(f"unknown drift {kind!r}; known: {', '.join(DRIFTS)}") from None


def describe_drift(kind: str, strength: float) -> str:
    """One line for a narrator: what changes on the line."""
    first = (drift_named(kind).__doc__ or kind).split(":")[0].strip().lower()
    return f"{kind} at strength {strength:g} ({first})"
