"""Colour: ICC to sRGB, CMYK, high bit depth scaled (not clipped), every Pillow mode."""

from __future__ import annotations

import struct

import pytest
from PIL import Image, ImageCms, ImageDraw

from imgproc import process
from tests.unit.images import (
    BLUE,
    GREEN,
    QUADRANTS,
    RED,
    close,
    corners,
    decode,
    encode,
    png_raw,
    quadrants,
    swapped_primaries_icc,
)


def red_green_halves(size: tuple[int, int] = (1000, 600)) -> Image.Image:
    image = Image.new("RGB", size, RED)
    ImageDraw.Draw(image).rectangle((size[0] // 2, 0, size[0], size[1]), fill=GREEN)
    return image


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF", "WEBP"])
def test_icc_swapped_primaries_converted_to_srgb(fmt: str) -> None:
    options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    data = encode(red_green_halves(), fmt, icc_profile=swapped_primaries_icc(), **options)
    result = process(data)
    assert result.icc_converted
    output = decode(result.data)
    assert "icc_profile" not in output.info
    left, right = output.getpixel((60, 150)), output.getpixel((440, 150))
    # stored red means green in this profile, and stored green means red
    assert close(left, GREEN, 40), left
    assert close(right, RED, 40), right


def test_srgb_icc_profile_keeps_colours() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    result = process(encode(quadrants(), "PNG", icc_profile=srgb))
    assert result.icc_converted
    for corner, colour in corners(decode(result.data)).items():
        assert close(colour, QUADRANTS[corner], 3), (corner, colour)


def test_unreadable_icc_profile_is_ignored() -> None:
    result = process(encode(quadrants(), "PNG", icc_profile=b"\x00" * 200))
    assert not result.icc_converted
    for corner, colour in corners(decode(result.data)).items():
        assert close(colour, QUADRANTS[corner], 3), (corner, colour)


def test_icc_profile_of_wrong_colour_space_is_ignored() -> None:
    cmyk_like = swapped_primaries_icc()  # an RGB profile on a greyscale image
    image = Image.new("L", (600, 400), 128)
    result = process(encode(image, "PNG", icc_profile=cmyk_like))
    output = decode(result.data)
    assert output.mode == "L"
    assert abs(output.getpixel((10, 10)) - 128) <= 2


CMYK_QUADRANTS = {
    "top_left": ((0, 255, 255, 0), RED),
    "top_right": ((255, 0, 255, 0), GREEN),
    "bottom_left": ((255, 255, 0, 0), BLUE),
    "bottom_right": ((0, 0, 0, 255), (0, 0, 0)),
}


def cmyk_quadrants(size: tuple[int, int] = (1000, 800)) -> Image.Image:
    width, height = size
    image = Image.new("CMYK", size)
    draw = ImageDraw.Draw(image)
    boxes = {
        "top_left": (0, 0, width // 2 - 1, height // 2 - 1),
        "top_right": (width // 2, 0, width, height // 2 - 1),
        "bottom_left": (0, height // 2, width // 2 - 1, height),
        "bottom_right": (width // 2, height // 2, width, height),
    }
    for corner, (cmyk, _rgb) in CMYK_QUADRANTS.items():
        draw.rectangle(boxes[corner], fill=cmyk)
    return image


def test_cmyk_adobe_inverted_jpeg_colours() -> None:
    data = encode(cmyk_quadrants(), "JPEG", quality=95)
    assert b"Adobe" in data  # APP14: Photoshop-style inverted CMYK samples
    result = process(data)
    assert result.original_mode == "CMYK"
    assert result.format == "JPEG"
    output = decode(result.data)
    assert output.mode == "RGB"
    for corner, colour in corners(output).items():
        assert close(colour, CMYK_QUADRANTS[corner][1], 40), (corner, colour)


def test_cmyk_tiff_colours() -> None:
    result = process(encode(cmyk_quadrants(), "TIFF"))
    for corner, colour in corners(decode(result.data)).items():
        assert close(colour, CMYK_QUADRANTS[corner][1], 8), (corner, colour)


def grey16_ramp(width: int = 1024, height: int = 64) -> Image.Image:
    """Horizontal 16-bit ramp 0..65535 with a mid-grey (32768) band in the middle rows."""
    image = Image.new("I;16", (width, height))
    for x in range(width):
        value = round(x * 65535 / (width - 1))
        image.paste(Image.new("I;16", (1, height // 2), value), (x, 0))
    image.paste(Image.new("I;16", (width, height - height // 2), 32768), (0, height // 2))
    return image


def test_grey16_png_ramp_mid_grey_stays_mid_grey() -> None:
    data = encode(grey16_ramp(), "PNG")
    result = process(data)
    assert result.original_mode == "I;16"
    output = decode(result.data)
    assert output.mode == "L"
    assert output.size == (500, 31)
    assert abs(output.getpixel((250, 28)) - 128) <= 1  # mid-grey band
    assert output.getpixel((2, 2)) <= 3
    assert output.getpixel((497, 2)) >= 252  # not clipped: 65535 -> 255, not 255 everywhere
    assert abs(output.getpixel((250, 2)) - 128) <= 4


def test_grey16_big_endian_tiff_mid_grey() -> None:
    image = Image.new("I;16B", (600, 300), 32768)
    result = process(encode(image, "TIFF"))
    assert result.original_mode in ("I;16B", "I;16")
    assert abs(decode(result.data).getpixel((100, 100)) - 128) <= 1


def test_rgb16_png_mid_grey_and_extremes() -> None:
    grey = struct.pack(">3H", 32768, 32768, 32768) * 100
    red = struct.pack(">3H", 65535, 0, 0) * 100
    data = png_raw((100, 100), 16, 2, [grey] * 50 + [red] * 50)
    output = decode(process(data).data)
    assert close(output.getpixel((50, 20)), (128, 128, 128), 3)
    assert close(output.getpixel((50, 80)), (255, 0, 0), 12)


def test_rgba16_png_keeps_alpha() -> None:
    row = struct.pack(">4H", 32768, 32768, 32768, 32768) * 100
    result = process(png_raw((100, 20), 16, 6, [row] * 20))
    output = decode(result.data)
    assert output.mode == "RGBA"
    assert close(output.getpixel((50, 10)), (128, 128, 128, 128), 2)


def test_float_tiff_zero_to_one_scaled() -> None:
    image = Image.new("F", (400, 200), 0.5)
    image.paste(1.0, (0, 0, 200, 200))
    output = decode(process(encode(image, "TIFF")).data)
    assert output.mode == "L"
    assert abs(output.getpixel((50, 100)) - 255) <= 1
    assert abs(output.getpixel((350, 100)) - 128) <= 1


def test_int32_tiff_sixteen_bit_range_scaled() -> None:
    image = Image.new("I", (400, 200), 32768)
    output = decode(process(encode(image, "TIFF")).data)
    assert abs(output.getpixel((50, 50)) - 128) <= 1


@pytest.mark.parametrize(
    ("mode", "fmt", "expected_mode"),
    [
        ("1", "PNG", "L"),
        ("1", "TIFF", "L"),
        ("1", "BMP", "L"),
        ("L", "JPEG", "L"),
        ("L", "PNG", "L"),
        ("P", "PNG", "RGB"),
        ("P", "GIF", "RGB"),
        ("P", "BMP", "RGB"),
        ("RGB", "BMP", "RGB"),
        ("LA", "PNG", "LA"),
        ("RGBA", "TIFF", "RGBA"),
        ("YCbCr", "TIFF", "RGB"),
    ],
)
def test_pillow_modes_handled(mode: str, fmt: str, expected_mode: str) -> None:
    base = quadrants((700, 500))
    if mode == "P":
        image = base.quantize(8)
    elif mode in ("LA", "RGBA"):
        image = base.convert(mode)
        image.putalpha(Image.new("L", base.size, 255))
        image.paste((0, 0) if mode == "LA" else (0, 0, 0, 0), (0, 0, 100, 100))
    else:
        image = base.convert(mode)
    result = process(encode(image, fmt))
    output = decode(result.data)
    assert output.mode == expected_mode
    assert output.size == (500, 357)
    if expected_mode in ("RGB", "RGBA"):
        colour = output.convert("RGB").getpixel((480, 340))
        assert close(colour, QUADRANTS["bottom_right"], 40), colour
