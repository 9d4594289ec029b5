"""imgproc's BlurHash encoder gives the reference encoder's strings (the ``blurhash`` package)."""

from __future__ import annotations

import random

import blurhash
import pytest
from PIL import Image, ImageDraw

from imgproc.placeholders import blurhash_of


def reference(pixels: Image.Image) -> str:
    width, height = pixels.size
    raw = pixels.tobytes()
    rows = [
        [raw[i : i + 3] for i in range(y * width * 3, (y + 1) * width * 3, 3)]
        for y in range(height)
    ]
    return str(blurhash.encode(rows, 4 if width >= height else 3, 4 if height >= width else 3))


def shapes_over_grain(size: tuple[int, int], seed: int) -> Image.Image:
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randrange(1, 8)):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        box = (x - 5, y - 5, x + rng.randrange(20), y + rng.randrange(20))
        draw.ellipse(box, fill=tuple(rng.randrange(256) for _ in range(3)))
    grain = Image.effect_noise(size, rng.randrange(1, 80)).convert("RGB")
    return Image.blend(image, grain, 0.3)


SIZES = [(32, 24), (24, 32), (32, 32), (32, 21), (1, 1), (2, 1), (1, 2), (32, 1), (5, 7)]


@pytest.mark.parametrize("size", SIZES)
def test_flat_and_extreme_pictures(size: tuple[int, int]) -> None:
    for colour in ((0, 0, 0), (255, 255, 255), (255, 0, 0), (128, 128, 128)):
        flat = Image.new("RGB", size, colour)
        assert blurhash_of(flat) == reference(flat)
    noise = Image.effect_noise(size, 90).convert("RGB")
    assert blurhash_of(noise) == reference(noise)


@pytest.mark.parametrize("seed", range(40))
def test_photo_like_pictures(seed: int) -> None:
    size = SIZES[seed % 5]
    pixels = shapes_over_grain(size, seed)
    assert blurhash_of(pixels) == reference(pixels)
    assert blurhash.components(blurhash_of(pixels)) == (
        4 if size[0] >= size[1] else 3,
        4 if size[1] >= size[0] else 3,
    )
