"""Bounded memory and time for the biggest inputs the defaults accept (fresh processes)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

from PIL import Image, ImageDraw

from imgproc import DEFAULT_MAX_PIXELS
from tests.unit.images import encode, png_chunk

PROJECT_ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from imgproc import ImageRejected, process
from tests.unit.memory import peak_rss_mb

data = open(sys.argv[2], "rb").read()
baseline_mb = peak_rss_mb()
started = time.process_time()
try:
    result = process(data)
    outcome = [result.format, result.width, result.height]
except ImageRejected as e:
    outcome = [e.reason]
print(json.dumps({"outcome": outcome, "cpu_s": time.process_time() - started,
                  "baseline_mb": baseline_mb, "peak_mb": peak_rss_mb()}))
"""


def probe(path: Path) -> dict:
    """Process the file at ``path`` in a fresh interpreter; its outcome, CPU time and peak RSS."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(PROJECT_ROOT), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def flat_png(size: tuple[int, int], colour_type: int, channels: int) -> bytes:
    """A valid 8-bit PNG of ``size`` whose pixels are all zero (compresses to almost nothing)."""
    width, height = size
    row = b"\x00" * (width * channels + 1)
    packer = zlib.compressobj(6)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def test_photo_24mp_jpeg_is_processed_lean(tmp_path: Path) -> None:
    image = Image.linear_gradient("L").resize((6000, 4000)).convert("RGB")
    ImageDraw.Draw(image).ellipse((1000, 500, 5000, 3500), fill=(200, 40, 90))
    path = tmp_path / "photo.jpg"
    path.write_bytes(encode(image, "JPEG", quality=90))
    report = probe(path)
    assert report["outcome"] == ["JPEG", 500, 333]
    assert report["peak_mb"] - report["baseline_mb"] < 40, report  # decoded at 1/8 scale
    assert report["cpu_s"] < 3


def test_largest_default_rgba_png_within_512_mb_and_5_s(tmp_path: Path) -> None:
    """10000x10000 RGBA (100 MP, 400 MB decoded): the worst case the defaults accept."""
    side = int(DEFAULT_MAX_PIXELS**0.5)
    path = tmp_path / "huge.png"
    path.write_bytes(flat_png((side, side), 6, 4))
    report = probe(path)
    assert report["outcome"] == ["PNG", 500, 500]
    assert report["peak_mb"] < 512, report
    assert report["cpu_s"] < 5, report


def test_over_budget_webp_refused_before_decoding(tmp_path: Path) -> None:
    """WebP decodes through a second buffer: 8000x8000 RGB needs ~512 MB, over the budget."""
    path = tmp_path / "big.webp"
    path.write_bytes(encode(Image.new("RGB", (8000, 8000), (10, 20, 30)), "WEBP", quality=50))
    report = probe(path)
    assert report["outcome"] == ["too_many_pixels"]
    assert report["peak_mb"] - report["baseline_mb"] < 40, report
