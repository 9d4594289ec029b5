"""Regressions for hostile inputs found by fuzzing and crafted-input testing.

Each test names what broke before: a decode that took far more memory than the
budget estimated, or a cache that kept hostile bytes alive.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from imgproc import ImageRejected, color, process
from tests.unit.images import close, decode, encode, quadrants
from tests.unit.test_limits import probe

# --- WebP: libwebp's animation decoder holds two canvases, plus two copies ---------


def webp_with_canvas(side_px: int) -> bytes:
    """A 140-byte animated WebP of two 16x16 frames on a ``side_px`` square canvas."""
    frames = [Image.new("RGB", (16, 16), "red"), Image.new("RGB", (16, 16), "blue")]
    data = bytearray(encode(frames[0], "WEBP", save_all=True, append_images=frames[1:]))
    at = data.index(b"VP8X") + 12
    data[at : at + 6] = (side_px - 1).to_bytes(3, "little") * 2
    return bytes(data)


def test_webp_huge_canvas_refused_before_decoding(tmp_path: Path) -> None:
    """7000x7000 canvas: ~750 MB peak before (estimated at 8 B/px, needs ~16)."""
    path = tmp_path / "canvas.webp"
    path.write_bytes(webp_with_canvas(7000))
    report = probe(path)
    assert report["outcome"] == ["too_many_pixels"]
    assert report["peak_mb"] - report["baseline_mb"] < 40, report


def test_small_webp_canvas_still_composited() -> None:
    result = process(webp_with_canvas(64))
    assert (result.width, result.height) == (64, 64)
    assert close(decode(result.data).getpixel((4, 4)), (255, 0, 0), 16)


# --- TIFF: libtiff allocates one buffer of the declared tile size -----------------


def tiff_deflate_tiled(size: tuple[int, int], tile: tuple[int, int], value: int = 0) -> bytes:
    """An 8-bit grey TIFF of ``size`` with one Deflate tile of ``tile`` pixels, all ``value``."""
    width, height = size
    tile_w, tile_h = tile
    packer = zlib.compressobj(1)
    row = bytes([value]) * tile_w
    body = b"".join(packer.compress(row) for _ in range(tile_h)) + packer.flush()
    entries = [
        (256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 8), (262, 3, 1),
        (277, 3, 1), (322, 4, tile_w), (323, 4, tile_h), (324, 4, 0), (325, 4, len(body)),
    ]  # fmt: skip
    data_offset = 8 + 2 + 12 * len(entries) + 4
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value_ in entries:
        value_ = data_offset if tag == 324 else value_
        packed = struct.pack("<HH", value_, 0) if kind == 3 else struct.pack("<I", value_)
        ifd += struct.pack("<HHI", tag, kind, 1) + packed
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00\x00\x00\x00" + body


def test_tiff_huge_tile_on_tiny_image_counts_the_tile_buffer() -> None:
    """A 64x64 TIFF with one 4096x4096 tile needs a 16 MB+ tile buffer (30000: ~900 MB)."""
    data = tiff_deflate_tiled((64, 64), (4096, 4096), value=200)
    result = process(data)
    assert (result.width, result.height) == (64, 64)
    assert abs(decode(result.data).getpixel((10, 10)) - 200) <= 4  # grey JPEG
    with pytest.raises(ImageRejected) as caught:
        process(data, max_decode_bytes=40_000_000)
    assert caught.value.reason == "too_many_pixels"


def test_tiff_gigabyte_tile_refused_at_default_limits() -> None:
    with pytest.raises(ImageRejected) as caught:
        process(tiff_deflate_tiled((64, 64), (30_000, 30_000)))
    assert caught.value.reason == "too_many_pixels"


# --- HEIF above 8 bits: 16-bit planes and a 16-bit intermediate --------------------


def heif_of(mode: str, chroma: int, side_px: int = 256) -> bytes:
    import pillow_heif

    pixel = {"RGB": b"\x10\x80\xf0", "RGB;16": b"\x00\x10\x00\x80\x00\xf0"}[mode]
    heif = pillow_heif.from_bytes(mode=mode, size=(side_px, side_px), data=pixel * side_px**2)
    buffer = io.BytesIO()
    heif.save(buffer, quality=50, chroma=chroma)
    return buffer.getvalue()


def test_heif_10_bit_444_budgeted_above_8_bit() -> None:
    """10-bit 4:4:4 HEIC peaks at ~20 B/px (36 MP: 760 MB), 8-bit at ~7 B/px."""
    budget = 256 * 256 * 12
    assert process(heif_of("RGB", 444), max_decode_bytes=budget).width == 256
    with pytest.raises(ImageRejected) as caught:
        process(heif_of("RGB;16", 444), max_decode_bytes=budget)
    assert caught.value.reason == "too_many_pixels"
    result = process(heif_of("RGB;16", 444))  # within the default budget: colours right
    assert close(decode(result.data).getpixel((5, 5)), (16, 128, 240), 12)


# --- BMP RLE: Pillow's Python RLE decoder holds three full-size buffers ------------


def test_bmp_rle8_budgeted_at_three_buffers() -> None:
    width, height = 1000, 1000
    runs = (b"\xfa\x01" * 4 + b"\x00\x00") * height + b"\x00\x01"  # 1000 px of index 1 a row
    palette = b"\x00\x00\x00\x00" + b"\x00\x00\xff\x00" + bytes(4 * 254)  # index 1: red (BGRX)
    offset = 14 + 40 + len(palette)
    data = (
        struct.pack("<2sIHHI", b"BM", offset + len(runs), 0, 0, offset)
        + struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(runs), 0, 0, 256, 0)
        + palette
        + runs
    )
    result = process(data, max_decode_bytes=3_100_000)
    assert close(decode(result.data).getpixel((250, 250)), (255, 0, 0), 8)
    with pytest.raises(ImageRejected) as caught:
        process(data, max_decode_bytes=2_900_000)
    assert caught.value.reason == "too_many_pixels"


# --- ICC transform cache: digests, never the profile bytes -------------------------


def test_icc_cache_keeps_digests_not_profiles() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    big_bogus = b"\x00" * 2_000_000  # 31 APP2 chunks of junk: ignored, never cached
    picture = quadrants((64, 48))
    for profile in [big_bogus, srgb] + [srgb + bytes(n) for n in range(1, 40)]:
        result = process(encode(picture, "JPEG", icc_profile=profile))
        assert (result.width, result.height) == (64, 48)
    assert 0 < len(color._cache) <= 32
    assert all(len(digest) == 32 for digest, _in, _out in color._cache)


# --- crafted oddities that must keep working (or be refused cleanly) ---------------


def jpeg_with_icc_chunks(profile: bytes, order: list[int], total: int) -> bytes:
    """A JPEG whose APP2 ICC chunks are written in ``order`` (0-based), claiming ``total``."""
    jpeg = encode(quadrants((64, 48)), "JPEG")
    size = -(-len(profile) // (max(order) + 1))
    segments = b""
    for index in order:
        payload = b"ICC_PROFILE\x00" + bytes([index + 1, total])
        payload += profile[index * size : (index + 1) * size]
        segments += b"\xff\xe2" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + segments + jpeg[2:]


SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.mark.parametrize(
    "data",
    [
        jpeg_with_icc_chunks(SRGB_ICC, [2, 0, 1], 3),
        jpeg_with_icc_chunks(SRGB_ICC, [0, 2], 3),
        jpeg_with_icc_chunks(SRGB_ICC, [0, 1], 5),
        jpeg_with_icc_chunks(SRGB_ICC[:100], [0], 1),
        jpeg_with_icc_chunks(b"\x00" * 500, [0], 1),
        encode(
            quadrants((64, 48)),
            "JPEG",
            icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes(),
        ),
    ],
    ids=["out_of_order", "missing_chunk", "count_mismatch", "truncated", "zeros", "lab"],
)
def test_odd_icc_profiles_never_fail_the_image(data: bytes) -> None:
    result = process(data)
    assert (result.width, result.height) == (64, 48)
    assert close(decode(result.data).getpixel((5, 5)), (255, 0, 0), 40)


def jpeg_with_sof(size: tuple[int, int] | None = None, precision: int = 8, marker: int = 0xC0):
    data = bytearray(encode(quadrants((64, 48)), "JPEG"))
    at = data.index(b"\xff\xc0")
    data[at + 1] = marker
    data[at + 4] = precision
    if size is not None:
        data[at + 5 : at + 9] = struct.pack(">HH", size[1], size[0])
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (jpeg_with_sof((0, 48)), "corrupt"),
        (jpeg_with_sof((64, 0)), "corrupt"),
        (jpeg_with_sof((65535, 65535)), "too_many_pixels"),
        (jpeg_with_sof(precision=12), "corrupt"),
        (jpeg_with_sof(marker=0xC3), "corrupt"),  # lossless SOF3, Huffman data of SOF0
    ],
    ids=["width_0", "height_0", "65535_square", "12_bit", "lossless"],
)
def test_odd_jpeg_frame_headers_refused_cleanly(data: bytes, reason: str) -> None:
    with pytest.raises(ImageRejected) as caught:
        process(data)
    assert caught.value.reason == reason


@pytest.mark.parametrize("max_dim", [1, 2, 499, 500, 501])
def test_max_dim_edges_on_extreme_aspect_ratios(max_dim: int) -> None:
    for size in [(10_000, 1), (1, 10_000), (1, 1), (3, 2)]:
        result = process(encode(Image.new("RGB", size, "red"), "PNG"), max_dim=max_dim)
        assert min(result.width, result.height) >= 1
        assert max(result.width, result.height) == min(max(size), max_dim)


@pytest.mark.parametrize("max_dim", [0, -1])
def test_invalid_max_dim_is_a_programming_error(max_dim: int) -> None:
    with pytest.raises(ValueError, match="max_dim"):
        process(encode(Image.new("RGB", (4, 4)), "PNG"), max_dim=max_dim)
