"""The allow-list: accepted formats by content, everything else unsupported_format."""

from __future__ import annotations

import io
import random
import zipfile

import pytest
from PIL import Image

from imgproc import ImageRejected, process, sniff_format
from tests.unit.images import (
    BLUE,
    GREEN,
    QUADRANTS,
    RED,
    close,
    corners,
    decode,
    encode,
    encode_heif,
    quadrants,
)


@pytest.mark.parametrize(
    ("fmt", "options", "tolerance"),
    [
        ("JPEG", {"quality": 95}, 40),
        ("PNG", {}, 0),
        ("GIF", {}, 8),
        ("WEBP", {"quality": 95}, 40),
        ("TIFF", {"compression": "tiff_lzw"}, 0),
        ("TIFF", {"compression": "jpeg"}, 40),
        ("BMP", {}, 0),
        ("AVIF", {"quality": 90}, 60),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_accepted_format_processed(fmt: str, options: dict, tolerance: int) -> None:
    data = encode(quadrants((640, 480)), fmt, **options)
    result = process(data)
    assert result.original_format == fmt
    assert (result.original_width, result.original_height) == (640, 480)
    assert (result.width, result.height) == (500, 375)
    assert result.format == "JPEG"
    for corner, colour in corners(decode(result.data)).items():
        assert close(colour, QUADRANTS[corner], max(tolerance, 12)), (fmt, corner, colour)


def test_heic_from_pillow_heif_processed() -> None:
    data = encode_heif(quadrants((640, 480)))
    assert sniff_format(data) == "HEIF"
    result = process(data)
    assert result.original_format == "HEIF"
    assert (result.width, result.height) == (500, 375)
    for corner, colour in corners(decode(result.data)).items():
        assert close(colour, QUADRANTS[corner], 60), (corner, colour)


def test_heic_with_alpha_keeps_alpha() -> None:
    image = quadrants((640, 480)).convert("RGBA")
    image.paste((0, 0, 0, 0), (0, 0, 320, 240))
    result = process(encode_heif(image))
    assert result.has_alpha
    output = decode(result.data)
    assert output.getpixel((5, 5))[3] == 0
    assert output.getpixel((495, 370))[3] == 255


def test_animated_gif_first_frame_only() -> None:
    frames = [Image.new("RGB", (600, 400), colour) for colour in (RED, GREEN, BLUE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    result = process(data)
    assert close(decode(result.data).getpixel((250, 160)), RED, 12)


def test_animated_webp_first_frame_only() -> None:
    frames = [Image.new("RGB", (600, 400), colour) for colour in (GREEN, RED, BLUE)]
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    result = process(data)
    assert close(decode(result.data).getpixel((250, 160)), GREEN, 12)


def test_apng_default_image() -> None:
    frames = [Image.new("RGB", (600, 400), colour) for colour in (BLUE, RED, GREEN)]
    data = encode(frames[0], "PNG", save_all=True, append_images=frames[1:])
    assert b"acTL" in data
    result = process(data)
    assert close(decode(result.data).getpixel((250, 160)), BLUE, 12)


def test_multipage_tiff_first_page() -> None:
    pages = [Image.new("RGB", (600, 400), colour) for colour in (GREEN, BLUE)]
    data = encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    assert close(decode(process(data).data).getpixel((250, 160)), GREEN, 8)


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("evil.sh", "#!/bin/sh\necho pwned\n")
    return buffer.getvalue()


UNSUPPORTED = {
    "svg": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="9000" '
    b'height="9000"><script>alert(1)</script></svg>',
    "svg_bare": b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="10" height="10"/></svg>',
    "pdf": b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
    "eps": b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\nshowpage\n",
    "psd": b"8BPS\x00\x01"
    + b"\x00" * 6
    + b"\x00\x03"
    + b"\x00\x00\x00\x10" * 2
    + b"\x00\x08\x00\x03",
    "ico": encode(Image.new("RGB", (32, 32), RED), "ICO"),
    "zip": zip_bytes(),
    "text": b"just some text, definitely not an image\n",
    "html": b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>",
    "mp4": b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 64,
    "bm_text": b"BMW is a car brand, not a bitmap at all",
    "ppm": encode(Image.new("RGB", (8, 8), RED), "PPM"),
    "tga": encode(Image.new("RGB", (8, 8), RED), "TGA"),
    "jpeg2000": encode(Image.new("RGB", (8, 8), RED), "JPEG2000"),
    "qoi": b"qoif\x00\x00\x00\x08\x00\x00\x00\x08\x03\x00" + b"\x00" * 20,
}


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_not_allowed_is_unsupported_format(name: str) -> None:
    with pytest.raises(ImageRejected) as caught:
        process(UNSUPPORTED[name])
    assert caught.value.reason == "unsupported_format"
    assert sniff_format(UNSUPPORTED[name]) is None


@pytest.mark.parametrize("seed", range(20))
def test_random_bytes_rejected(seed: int) -> None:
    data = random.Random(seed).randbytes(5000)
    with pytest.raises(ImageRejected) as caught:
        process(data)
    assert caught.value.reason == "unsupported_format"


@pytest.mark.parametrize(
    ("magic", "fmt"),
    [
        (b"\xff\xd8\xff\xe0", "JPEG"),
        (b"\x89PNG\r\n\x1a\n", "PNG"),
        (b"GIF89a", "GIF"),
        (b"RIFF\x00\x10\x00\x00WEBPVP8 ", "WEBP"),
        (b"II*\x00", "TIFF"),
        (b"MM\x00*", "TIFF"),
        (b"BM" + b"\x00" * 12 + b"\x28\x00\x00\x00", "BMP"),
    ],
)
def test_magic_then_random_bytes_is_corrupt_or_truncated(magic: bytes, fmt: str) -> None:
    data = magic + random.Random(7).randbytes(4000)
    assert sniff_format(data) == fmt
    with pytest.raises(ImageRejected) as caught:
        process(data)
    assert caught.value.reason in ("corrupt", "truncated")


def test_empty_is_empty() -> None:
    with pytest.raises(ImageRejected) as caught:
        process(b"")
    assert caught.value.reason == "empty"


def test_lying_content_is_sniffed_not_trusted() -> None:
    """A PNG that a client calls photo.jpg: only the bytes count (no name is even passed)."""
    result = process(encode(quadrants((300, 200)), "PNG"))
    assert result.original_format == "PNG"
