"""Transparency: kept in PNG, resized premultiplied, palette and GIF transparency count."""

from __future__ import annotations

from PIL import Image, ImageDraw

from imgproc import process
from tests.unit.images import MAGENTA, decode, encode, png_chunk, png_raw


def rgba_hidden_magenta(size: tuple[int, int] = (1200, 900)) -> Image.Image:
    """Opaque green disc on a fully transparent background whose RGB is loud magenta."""
    image = Image.new("RGBA", size, (*MAGENTA, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((100, 100, size[0] - 100, size[1] - 100), fill=(0, 160, 0, 255))
    return image


def magenta_tinted(pixel: tuple[int, ...]) -> bool:
    """A visible pixel whose red and blue both clearly exceed green (any magenta bleed)."""
    red, green, blue, alpha = pixel
    return alpha > 0 and red > green + 24 and blue > green + 24


def test_rgba_hidden_magenta_never_bleeds_into_edges() -> None:
    result = process(encode(rgba_hidden_magenta(), "PNG"))
    assert result.format == "PNG"
    assert result.has_alpha
    output = decode(result.data)
    assert output.mode == "RGBA"
    assert output.size == (500, 375)
    pixels = list(output.get_flattened_data())
    assert not any(magenta_tinted(p) for p in pixels)
    alphas = {p[3] for p in pixels}
    assert 0 in alphas
    assert 255 in alphas
    assert len(alphas) > 2  # a soft, resampled edge exists


def test_rgba_hidden_magenta_webp_input() -> None:
    data = encode(rgba_hidden_magenta(), "WEBP", lossless=True, exact=True)
    result = process(data)
    assert result.format == "PNG"
    assert not any(magenta_tinted(p) for p in decode(result.data).get_flattened_data())


def test_la_hidden_white_stays_dark_at_the_edges() -> None:
    image = Image.new("LA", (1000, 1000), (255, 0))
    ImageDraw.Draw(image).rectangle((300, 300, 700, 700), fill=(0, 255))
    result = process(encode(image, "PNG"))
    output = decode(result.data)
    assert output.mode == "LA"
    assert result.has_alpha
    assert max(p[0] for p in output.get_flattened_data() if p[1] > 0) <= 8


def test_palette_with_trns_counts_as_alpha() -> None:
    image = Image.new("P", (800, 800), 0)
    image.putpalette([*MAGENTA, 0, 0, 255])
    ImageDraw.Draw(image).rectangle((200, 200, 600, 600), fill=1)
    data = encode(image, "PNG", transparency=0)
    assert b"tRNS" in data
    result = process(data)
    output = decode(result.data)
    assert result.format == "PNG"
    assert output.getpixel((5, 5))[3] == 0
    assert output.getpixel((250, 250)) == (0, 0, 255, 255)
    assert not any(magenta_tinted(p) for p in output.get_flattened_data())


def test_truecolour_png_trns_colour_key_counts_as_alpha() -> None:
    rows = [bytes([255, 0, 255] * 4 + [0, 0, 255] * 4)] * 8
    trns = png_chunk(b"tRNS", b"\x00\xff\x00\x00\x00\xff")  # key colour 255,0,255
    result = process(png_raw((8, 8), 8, 2, rows, before_idat=trns))
    output = decode(result.data)
    assert result.has_alpha
    assert output.getpixel((0, 0))[3] == 0
    assert output.getpixel((7, 0)) == (0, 0, 255, 255)


def test_gif_transparency_counts_as_alpha() -> None:
    image = Image.new("P", (600, 600), 0)
    image.putpalette([*MAGENTA, 255, 200, 0])
    ImageDraw.Draw(image).ellipse((100, 100, 500, 500), fill=1)
    result = process(encode(image, "GIF", transparency=0))
    output = decode(result.data)
    assert result.format == "PNG"
    assert output.size == (500, 500)
    assert output.getpixel((2, 2))[3] == 0
    assert output.getpixel((250, 250)) == (255, 200, 0, 255)
    assert not any(magenta_tinted(p) for p in output.get_flattened_data())


def test_fully_opaque_alpha_becomes_jpeg() -> None:
    image = Image.new("RGBA", (900, 600), (30, 90, 200, 255))
    result = process(encode(image, "PNG"))
    assert result.format == "JPEG"
    assert result.content_type == "image/jpeg"
    assert result.extension == "jpg"
    assert not result.has_alpha
    output = decode(result.data)
    assert output.mode == "RGB"
    assert all(
        abs(a - b) <= 3 for a, b in zip(output.getpixel((250, 160)), (30, 90, 200), strict=True)
    )


def test_small_transparent_image_keeps_alpha_and_size() -> None:
    image = Image.new("RGBA", (40, 30), (10, 20, 30, 128))
    result = process(encode(image, "PNG"))
    output = decode(result.data)
    assert (result.format, output.size) == ("PNG", (40, 30))
    assert output.getpixel((3, 3)) == (10, 20, 30, 128)
