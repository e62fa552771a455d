"""Image bytes <-> gray float arrays, with guards against hostile uploads."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, UnidentifiedImageError


class ImageRejected(ValueError):
    """The bytes cannot be turned into an inspection image."""


class NotAnImage(ImageRejected):
    """The bytes are not in any image format PIL can identify."""


class CorruptImage(ImageRejected):
    """An identified image that fails to decode or exceeds the limits."""


def decode_image(
    data: bytes, *, size: int = 32, max_bytes: int = 5_000_000, max_pixels: int = 20_000_000
) -> np.ndarray:
    """Decode any PIL-readable image into a float32 (size, size) gray array in [0, 1]."""
    if len(data) > max_bytes:
        raise CorruptImage(f"image is {len(data)} bytes, over the {max_bytes} byte limit")
    image = _open(data)
    width, height = image.size
    # Checked from the header before any pixel is decoded: PIL's own bomb check only warns
    # below twice its global limit, and that limit is process-wide state we do not own.
    if width * height > max_pixels:
        raise CorruptImage(f"image declares {width}x{height} pixels, over {max_pixels}")
    try:
        image.load()
        gray = image.convert("L")
        if gray.size != (size, size):
            gray = gray.resize((size, size), Image.Resampling.BILINEAR)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise CorruptImage(f"image fails to decode: {exc}") from exc
    return np.asarray(gray, dtype=np.float32) / np.float32(255.0)


def declared_size(data: bytes) -> tuple[int, int]:
    """Width and height as the image's header declares them, with no pixel decoded."""
    width, height = _open(data).size
    return width, height


def decode_all(
    images: list[bytes], *, size: int, max_bytes: int, max_pixels: int
) -> list[np.ndarray | ImageRejected]:
    """Each image decoded as `decode_image` does, or why it is refused, in order: one call for
    a batch, so that it can run in another process (a module-level function of bytes)."""
    decoded: list[np.ndarray | ImageRejected] = []
    for data in images:
        try:
            decoded.append(
                decode_image(data, size=size, max_bytes=max_bytes, max_pixels=max_pixels)
            )
        except ImageRejected as exc:
            decoded.append(exc)
    return decoded


def _open(data: bytes) -> Image.Image:
    """Identify the format lazily (header only)."""
    try:
        return Image.open(io.BytesIO(data))
    except UnidentifiedImageError as exc:
        raise NotAnImage("bytes are not a known image format") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # The warning only arrives here when a caller runs with warnings as errors.
        raise CorruptImage(f"image is too large: {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptImage(f"image header is invalid: {exc}") from exc


def encode_png(image: np.ndarray) -> bytes:
    """Encode a 2-D gray array (float in [0, 1] or uint8) as lossless, deterministic PNG."""
    pixels = to_uint8(image)
    buffer = io.BytesIO()
    # No metadata chunks and a fixed compression level keep the bytes identical per array.
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Gray 2-D array as uint8; floats are read as [0, 1] and clipped."""
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D gray image, got shape {image.shape}")
    if image.dtype == np.uint8:
        return np.ascontiguousarray(image)
    scaled = np.rint(np.clip(image.astype(np.float64), 0.0, 1.0) * 255.0)
    return scaled.astype(np.uint8)
