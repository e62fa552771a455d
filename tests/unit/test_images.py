"""Uploads become gray 32x32 arrays; anything else is refused with the right kind of error."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from services.common.images import (
    CorruptImage,
    ImageRejected,
    NotAnImage,
    decode_image,
    encode_png,
)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height gray pixels (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def test_a_part_survives_the_png_round_trip_bit_for_bit() -> None:
    image = np.random.default_rng(0).integers(0, 256, size=(32, 32), dtype=np.uint8)

    png = encode_png(image)
    decoded = decode_image(png)

    assert decoded.dtype == np.float32 and decoded.shape == (32, 32)
    np.testing.assert_array_equal(np.rint(decoded * 255).astype(np.uint8), image)
    assert encode_png(image) == png  # deterministic bytes: same array, same hash


def test_float_images_are_encoded_within_one_grey_level() -> None:
    image = np.random.default_rng(1).random((32, 32), dtype=np.float32)

    decoded = decode_image(encode_png(image))

    assert np.max(np.abs(decoded - image)) <= 0.5 / 255 + 1e-6


def test_a_colour_photo_of_another_size_becomes_a_gray_32x32_array() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 100, 50)).save(buffer, format="JPEG")

    decoded = decode_image(buffer.getvalue())

    assert decoded.shape == (32, 32)
    assert 0.0 <= decoded.min() <= decoded.max() <= 1.0


def test_bytes_that_are_no_image_are_refused_as_not_an_image() -> None:
    with pytest.raises(NotAnImage):
        decode_image(b'{"hello": "this is json"}')


def test_a_truncated_png_is_refused_as_corrupt() -> None:
    png = encode_png(np.random.default_rng(2).integers(0, 256, (32, 32), dtype=np.uint8))

    with pytest.raises(CorruptImage):
        decode_image(png[: len(png) // 2])


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_decompression_bomb_is_refused_from_its_header_alone() -> None:
    bomb = _png_declaring(10_000, 10_000)
    assert len(bomb) < 200

    # 100 Mpx is under PIL's own error threshold (about 179 Mpx), so only our check stops it.
    with pytest.raises(CorruptImage, match="10000x10000"):
        decode_image(bomb)


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
def test_a_bomb_is_still_a_corrupt_image_when_warnings_are_errors() -> None:
    with pytest.raises(CorruptImage, match="too large"):
        decode_image(_png_declaring(10_000, 10_000))


def test_an_oversized_upload_is_refused_before_decoding() -> None:
    png = encode_png(np.zeros((32, 32), dtype=np.uint8))

    with pytest.raises(CorruptImage, match="byte limit"):
        decode_image(png, max_bytes=len(png) - 1)


def test_rejections_are_value_errors_the_api_can_map() -> None:
    assert issubclass(NotAnImage, ImageRejected) and issubclass(CorruptImage, ImageRejected)
    assert issubclass(ImageRejected, ValueError)


def test_only_2d_gray_images_can_be_encoded() -> None:
    with pytest.raises(ValueError, match="2-D"):
        encode_png(np.zeros((32, 32, 3), dtype=np.uint8))
