"""Fuzz the pre-decode checks over mutated files of every accepted format.

Seeds are small generated files of each format :mod:`imgproc.sniff` accepts (JPEG
baseline and progressive, PNG incl. APNG and 16-bit, GIF, WebP lossy/lossless/animated,
TIFF little- and big-endian, BigTIFF, multi-page TIFF, BMP incl. RLE8, HEIF, AVIF).
Mutations favour the header: integers with edge values (0, 2**31, 2**63,
``0x80ffffffffffffff``, the file length...) written over fields in either byte order,
random bytes, cuts, insertions, deletions and duplicated slices.

Property: sniffing, describing, the structure checks and the truncation probe return or
raise :class:`~imgproc.ImageRejected`, nothing else (issue 9: an ``OverflowError``
escaped from imgproc/structure.py). Two ways to look:

- a sweep, the same every run: every edge value written at every byte of the first
  :data:`SWEEP_BYTES` bytes, and over every field-like integer further into the header
  (:func:`header_fields`), in 2, 4 and 8 bytes, both byte orders;
- hypothesis, random stacks of mutations (derandomised, so CI is repeatable), also sent
  through the whole engine in a smaller run.

Bounded to a few seconds; ``FUZZ_EXAMPLES=5000`` explores further.
"""

from __future__ import annotations

import io
import os
import struct
from functools import cache
from typing import Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from imgproc import ImageRejected, process, sniff
from imgproc.errors import REASONS
from imgproc.structure import check_structure
from tests.unit.images import encode, encode_heif, quadrants

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "400"))
HEADER_BYTES = 256  # most mutations land here, where the structure is described
SWEEP_BYTES = 40  # every position of these gets every edge value in the sweep
WIDTHS = (2, 4, 8)
Order = Literal["little", "big"]
ORDERS: tuple[Order, Order] = ("little", "big")
EDGE_VALUES = (
    0,
    1,
    2,
    7,
    8,
    0x7F,
    0x80,
    0xFF,
    0x7FFF,
    0x8000,
    0xFFFF,
    0x7FFFFFFF,
    0x80000000,
    0xFFFFFFFF,
    2**40,
    2**63 - 1,
    2**63,
    0x80FFFFFFFFFFFFFF,
    2**64 - 1,
)


def _bmp_rle8() -> bytes:
    width, height, rle = 16, 8, b"\x10\x01" * 8 + b"\x00\x01"
    offset = 14 + 40 + 1024
    head = struct.pack("<2sIHHI", b"BM", offset + len(rle), 0, 0, offset)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(rle), 2835, 2835, 256, 0)
    return head + info + bytes(1024) + rle


def _exif_orientation_6() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return exif.tobytes()


def _frames(n: int, size: tuple[int, int] = (24, 16)) -> list[Image.Image]:
    return [Image.new("RGB", size, (40 * i, 200 - 40 * i, 90)) for i in range(n)]


SEED_NAMES = (
    "jpeg_baseline_exif",
    "jpeg_progressive",
    "png_rgba",
    "png_palette",
    "png_16bit",
    "apng",
    "gif_animated",
    "webp_lossy",
    "webp_lossless_alpha",
    "webp_animated",
    "tiff_little_lzw",
    "tiff_big_endian",
    "bigtiff",
    "tiff_multipage",
    "bmp_24bit",
    "bmp_rle8",
    "heif",
    "avif",
)


@cache
def seeds() -> dict[str, tuple[str, bytes]]:
    """``name -> (format, bytes)``: one small valid file per accepted format and variant."""
    photo = quadrants((48, 32))
    rgba = photo.convert("RGBA")
    rgba.putalpha(128)
    first, *rest = _frames(3)
    made = {
        "jpeg_baseline_exif": ("JPEG", encode(photo, "JPEG", exif=_exif_orientation_6())),
        "jpeg_progressive": ("JPEG", encode(photo, "JPEG", progressive=True)),
        "png_rgba": ("PNG", encode(rgba, "PNG")),
        "png_palette": ("PNG", encode(photo.convert("P"), "PNG", transparency=0)),
        "png_16bit": ("PNG", encode(Image.new("I;16", (24, 16), 40000), "PNG")),
        "apng": ("PNG", encode(first, "PNG", save_all=True, append_images=rest)),
        "gif_animated": ("GIF", encode(first, "GIF", save_all=True, append_images=rest)),
        "webp_lossy": ("WEBP", encode(photo, "WEBP", quality=60)),
        "webp_lossless_alpha": ("WEBP", encode(rgba, "WEBP", lossless=True)),
        "webp_animated": ("WEBP", encode(first, "WEBP", save_all=True, append_images=rest)),
        "tiff_little_lzw": ("TIFF", encode(photo, "TIFF", compression="tiff_lzw")),
        "tiff_big_endian": ("TIFF", encode(Image.new("I;16B", (24, 16), 300), "TIFF")),
        "bigtiff": ("TIFF", encode(photo, "TIFF", big_tiff=True)),
        "tiff_multipage": ("TIFF", encode(first, "TIFF", save_all=True, append_images=rest)),
        "bmp_24bit": ("BMP", encode(photo, "BMP")),
        "bmp_rle8": ("BMP", _bmp_rle8()),
        "heif": ("HEIF", encode_heif(photo)),
        "avif": ("AVIF", encode(photo, "AVIF", quality=50)),
    }
    assert tuple(made) == SEED_NAMES
    for name, (fmt, data) in made.items():
        assert sniff.sniff_format(data) == fmt, name
    return made


def _checks_return_or_reject(data: bytes, fmt: str) -> None:
    try:
        check_structure(data, fmt)
    except ImageRejected as rejection:
        assert rejection.reason in ("too_large", "corrupt")
    assert isinstance(sniff.container_truncated(data, fmt), bool)


Field = tuple[int, int, Order]  # (offset, width in bytes, byte order)


def header_fields(data: bytes) -> list[Field]:
    """Where ``data`` may hold a structure field: every position of the first
    :data:`SWEEP_BYTES` bytes, then the 2/4/8-byte integers of the header (up to
    :data:`HEADER_BYTES`) whose value could be an offset, a length or a count
    (1 to the file's length), in either byte order."""
    fields: list[Field] = []
    for at in range(min(len(data), HEADER_BYTES)):
        for width in WIDTHS:
            for order in ORDERS:
                if at + width > len(data):
                    continue
                value = int.from_bytes(data[at : at + width], order)
                if at < SWEEP_BYTES or 1 <= value <= len(data):
                    fields.append((at, width, order))
    return fields


def overwrite(data: bytes, field: Field, value: int) -> bytes:
    """``data`` with ``value`` (reduced to the field's width) written at ``field``."""
    at, width, order = field
    packed = (value % 2 ** (8 * width)).to_bytes(width, order)
    return data[:at] + packed + data[at + width :]


@pytest.mark.parametrize("name", SEED_NAMES)
def test_edge_values_in_header_fields_raise_nothing_but_image_rejected(name: str) -> None:
    fmt, data = seeds()[name]
    values = (*EDGE_VALUES, len(data) - 1, len(data), len(data) + 1)
    fields = header_fields(data)
    assert fields, name
    for field in fields:
        for value in values:
            _checks_return_or_reject(overwrite(data, field, value), fmt)


def _offset(draw: st.DrawFn, size: int) -> int:
    if size <= 1:
        return 0
    in_header = st.integers(0, min(size, HEADER_BYTES) - 1)
    return draw(st.one_of(in_header, in_header, st.integers(0, size - 1)))


@st.composite
def mutants(draw: st.DrawFn) -> tuple[str, str, bytes]:
    """``(seed name, seed format, mutated bytes)``."""
    name = draw(st.sampled_from(SEED_NAMES))
    fmt, original = seeds()[name]
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["int", "int", "bytes", "cut", "insert", "delete", "dup"]))
        at = _offset(draw, len(data))
        if kind == "int":
            fields = header_fields(bytes(data))
            if fields and draw(st.booleans()):
                field = draw(st.sampled_from(fields))
            else:
                field = (at, draw(st.sampled_from([1, *WIDTHS])), draw(st.sampled_from(ORDERS)))
            near_length = [len(data) - 1, len(data), len(data) + 1]
            value = draw(st.sampled_from([*EDGE_VALUES, *near_length]) | st.integers(0, 2**64 - 1))
            data = bytearray(overwrite(bytes(data), field, value))
        elif kind == "bytes":
            data[at : at + 8] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        else:
            length = draw(st.integers(1, 64))
            data[at:at] = data[at : at + length] * draw(st.integers(1, 50))
    return name, fmt, bytes(data)


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutants())
def test_pre_decode_checks_raise_nothing_but_image_rejected(
    mutant: tuple[str, str, bytes],
) -> None:
    _name, seed_format, data = mutant
    sniffed = sniff.sniff_format(data)
    assert sniffed is None or sniffed in sniff.ACCEPTED_FORMATS
    assert isinstance(sniff.describe_unknown(data), str)
    # The seed's own format even when the mutation broke the magic: the scans must
    # survive any bytes, not only those that sniff right.
    for fmt in {seed_format, sniffed} - {None}:
        _checks_return_or_reject(data, fmt)


@settings(
    max_examples=max(EXAMPLES // 3, 1),
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutants())
@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's warnings about broken EXIF
def test_engine_raises_nothing_but_image_rejected_on_mutants(
    mutant: tuple[str, str, bytes],
) -> None:
    _name, _fmt, data = mutant
    try:
        result = process(data, max_dim=64)
    except ImageRejected as rejection:
        assert rejection.reason in REASONS
        return
    assert 1 <= max(result.width, result.height) <= 64
    with Image.open(io.BytesIO(result.data)) as rendition:
        assert rendition.size == (result.width, result.height)


def test_every_accepted_format_has_a_seed() -> None:
    assert {fmt for fmt, _ in seeds().values()} == set(sniff.ACCEPTED_FORMATS)
