"""Test images whose pixels a test can check after a resize."""

from __future__ import annotations

import io

from PIL import Image


def red_blue_jpeg(size: tuple[int, int]) -> bytes:
    """A JPEG whose left half is red and right half blue, ``size`` = (width, height)."""
    image = Image.new("RGB", size, (255, 0, 0))
    image.paste((0, 0, 255), (size[0] // 2, 0, size[0], size[1]))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    """The value at ``xy`` = (x, y) of a multi-band image (RGB...), as a tuple."""
    value = image.getpixel(xy)
    assert isinstance(value, tuple), value
    return value
