"""EXIF orientation 1..8 on every format that carries it, and bad tags ignored."""

from __future__ import annotations

import struct

import pytest
from PIL import Image

from imgproc import process
from tests.unit.images import (
    QUADRANTS,
    close,
    corners,
    decode,
    encode,
    encode_heif,
    exif_bytes,
    jpeg_with_segment,
    quadrants,
    stored_for_orientation,
)

ORIENTATIONS = range(1, 9)
UPRIGHT = (800, 600)  # output 500x375 once upright


def assert_upright_quadrants(data: bytes, tolerance: int = 40) -> None:
    output = decode(data)
    assert output.size == (500, 375)
    for corner, colour in corners(output).items():
        assert close(colour, QUADRANTS[corner], tolerance), (corner, colour)


def stored(orientation: int) -> Image.Image:
    return stored_for_orientation(quadrants(UPRIGHT), orientation)


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_orientation_n_quadrants_jpeg(orientation: int) -> None:
    data = encode(stored(orientation), "JPEG", quality=95, exif=exif_bytes(orientation))
    result = process(data)
    assert_upright_quadrants(result.data)
    assert result.orientation == (None if orientation == 1 else orientation)
    assert (result.width, result.height) == (500, 375)


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_orientation_n_quadrants_png_exif_chunk(orientation: int) -> None:
    data = encode(stored(orientation), "PNG", exif=exif_bytes(orientation))
    assert b"eXIf" in data
    assert_upright_quadrants(process(data).data)


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_orientation_n_quadrants_webp(orientation: int) -> None:
    data = encode(stored(orientation), "WEBP", quality=95, exif=exif_bytes(orientation))
    assert_upright_quadrants(process(data).data)


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_orientation_n_quadrants_tiff(orientation: int) -> None:
    data = encode(stored(orientation), "TIFF", tiffinfo={0x0112: orientation})
    assert_upright_quadrants(process(data).data)


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_orientation_n_quadrants_avif_irot(orientation: int) -> None:
    """Pillow stores the orientation as AVIF irot/imir and reports it back as EXIF."""
    data = encode(stored(orientation), "AVIF", quality=90, exif=exif_bytes(orientation))
    assert_upright_quadrants(process(data).data, tolerance=60)


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_orientation_n_quadrants_heic_not_rotated_twice(orientation: int) -> None:
    """libheif applies irot/imir itself; the engine must not rotate again."""
    data = encode_heif(stored(orientation), exif=exif_bytes(orientation))
    result = process(data)
    assert result.original_format == "HEIF"
    assert_upright_quadrants(result.data, tolerance=60)


def exif_orientation_entry(field_type: int, count: int, value: bytes) -> bytes:
    """Little-endian EXIF with a single orientation entry of any type (value inline)."""
    entry = struct.pack("<HHI", 0x0112, field_type, count) + value.ljust(4, b"\x00")
    return b"II*\x00\x08\x00\x00\x00\x01\x00" + entry + b"\x00\x00\x00\x00"


@pytest.mark.parametrize(
    "exif",
    [
        exif_bytes(0),
        exif_bytes(9),
        exif_bytes(65535),
        exif_orientation_entry(2, 2, b"6\x00"),  # ASCII "6"
        exif_orientation_entry(3, 2, b"\x06\x00\x06\x00"),  # two SHORTs
        exif_orientation_entry(99, 1, b"\x06\x00"),  # unknown field type
    ],
    ids=["zero", "nine", "65535", "ascii", "two_values", "unknown_type"],
)
def test_invalid_orientation_leaves_picture_as_stored(exif: bytes) -> None:
    upright = quadrants(UPRIGHT)
    data = encode(upright, "JPEG", quality=95, exif=exif)
    result = process(data)
    assert result.orientation is None
    assert_upright_quadrants(result.data)


@pytest.mark.parametrize(
    "payload",
    [
        b"Exif\x00\x00garbage-not-tiff",
        b"Exif\x00\x00II*\x00\xff\xff\xff\x7f",  # IFD offset far beyond the block
        b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff",  # entry count with no entries
        b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00\xff\xff\xff\x0f"
        b"\x00\x00\x00\x00",  # orientation with an absurd value count
        b"Exif\x00\x00",
    ],
    ids=["not_tiff", "offset_out_of_range", "truncated_ifd", "absurd_count", "empty"],
)
def test_malformed_exif_never_fails_the_image(payload: bytes) -> None:
    base = encode(quadrants(UPRIGHT), "JPEG", quality=95)
    data = jpeg_with_segment(base, 0xE1, payload)
    result = process(data)
    assert result.orientation is None
    assert_upright_quadrants(result.data)


def test_exif_ifd_loop_is_survived_quickly() -> None:
    # IFD0 with one orientation entry whose "next IFD" points back at itself.
    tiff = exif_orientation_entry(3, 1, b"\x06\x00")[:-4] + b"\x08\x00\x00\x00"
    data = jpeg_with_segment(encode(stored(6), "JPEG", quality=95), 0xE1, b"Exif\x00\x00" + tiff)
    result = process(data)
    assert result.orientation == 6
    assert_upright_quadrants(result.data)
