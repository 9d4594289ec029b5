"""Geometry: longest side exactly max_dim, never upscaled, aspect rounded to nearest."""

from __future__ import annotations

import io
import math

import pytest
from PIL import Image, ImageChops, ImageStat

from imgproc import process
from imgproc.shrink import fit_size
from tests.unit.images import decode, encode, quadrants


@pytest.mark.parametrize(
    ("size", "max_dim", "expected"),
    [
        ((6000, 4000), 500, (500, 333)),
        ((4000, 6000), 500, (333, 500)),
        ((1000, 333), 500, (500, 167)),  # 166.5 rounds up
        ((1001, 500), 500, (500, 250)),  # 249.75
        ((1003, 500), 500, (500, 249)),  # 249.25
        ((10_000, 10), 500, (500, 1)),  # 0.5 rounds up, never 0
        ((30_000, 1), 500, (500, 1)),
        ((500, 500), 500, (500, 500)),
        ((499, 20), 500, (499, 20)),  # never upscaled
        ((1, 1), 500, (1, 1)),
        ((3264, 2448), 320, (320, 240)),
        ((2566, 3313), 500, (387, 500)),
    ],
)
def test_fit_size(size: tuple[int, int], max_dim: int, expected: tuple[int, int]) -> None:
    assert fit_size(size, max_dim) == expected


@pytest.mark.parametrize(
    ("size", "fmt", "expected"),
    [
        ((1000, 333), "JPEG", (500, 167)),
        ((1000, 333), "PNG", (500, 167)),
        ((333, 1000), "JPEG", (167, 500)),
        ((1000, 800), "JPEG", (500, 400)),
        ((1601, 1067), "JPEG", (500, 333)),
        ((2000, 3), "PNG", (500, 1)),
        ((7, 2000), "JPEG", (2, 500)),
    ],
)
def test_process_output_size_exact(size: tuple[int, int], fmt: str, expected) -> None:
    result = process(encode(quadrants(size), fmt))
    assert (result.width, result.height) == expected
    assert decode(result.data).size == expected


@pytest.mark.parametrize("size", [(120, 80), (500, 200), (1, 1), (3, 499)])
def test_never_upscale(size: tuple[int, int]) -> None:
    result = process(encode(Image.new("RGB", size, (9, 99, 199)), "PNG"))
    assert (result.width, result.height) == size


@pytest.mark.parametrize("max_dim", [1, 64, 320, 800])
def test_max_dim_argument(max_dim: int) -> None:
    result = process(encode(quadrants((1600, 1200)), "JPEG"), max_dim=max_dim)
    assert max(result.width, result.height) == max_dim


def test_invalid_max_dim_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="max_dim"):
        process(encode(quadrants((10, 10)), "PNG"), max_dim=0)


def test_result_facts() -> None:
    result = process(encode(quadrants((1200, 800)), "PNG"))
    facts = result.facts()
    assert facts == {
        "format": "JPEG",
        "content_type": "image/jpeg",
        "width": 500,
        "height": 333,
        "size_bytes": len(result.data),
        "original_width": 1200,
        "original_height": 800,
        "original_format": "PNG",
        "original_mode": "RGB",
        "has_alpha": False,
        "orientation": None,
        "icc_converted": False,
    }


def psnr_against_lanczos(data: bytes, output: bytes) -> float:
    """PSNR in dB of ``output`` against a full-resolution LANCZOS resize of ``data``."""
    result = decode(output).convert("RGB")
    reference = Image.open(io.BytesIO(data)).convert("RGB")
    reference = reference.resize(result.size, Image.Resampling.LANCZOS)
    rms = ImageStat.Stat(ImageChops.difference(result, reference)).rms
    mse = sum(channel**2 for channel in rms) / 3
    return 10 * math.log10(255**2 / max(mse, 1e-9))


def test_jpeg_draft_quality_close_to_full_lanczos() -> None:
    """Draft decoding must not visibly degrade a detailed picture (PSNR guard)."""
    source = Image.effect_mandelbrot((3000, 2000), (-2.0, -1.0, 1.0, 1.0), 200).convert("RGB")
    data = encode(source, "JPEG", quality=95)
    fast = psnr_against_lanczos(data, process(data).data)
    careful = psnr_against_lanczos(data, process(data, jpeg_draft_margin=2.0).data)
    assert fast > 28, fast
    assert careful >= fast - 0.05, (careful, fast)


def test_bytes_like_input_accepted() -> None:
    data = encode(quadrants((640, 480)), "PNG")
    for view in (bytearray(data), memoryview(data)):
        assert process(view).width == 500


def test_jpeg_draft_margin_below_one_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="jpeg_draft_margin"):
        process(encode(quadrants((10, 10)), "JPEG"), jpeg_draft_margin=0.5)
