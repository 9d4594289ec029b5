"""Placeholders a page shows before a rendition loads: a dominant colour and a BlurHash.

Both are computed from the smallest rendition's pixels (upright, sRGB), scaled
down to at most :data:`PLACEHOLDER_SIDE_PX` on the longest side with LANCZOS;
transparent pixels are composited over white first (what a page usually shows
behind them), because neither a hex colour nor a BlurHash carries alpha.

- Dominant colour: the most populated cell of a 16x16x16 RGB histogram (4 bits
  per channel, the method of libvips' and sharp's ``dominant``), reported as the
  mean of the pixels in that cell, ``#rrggbb``. Ties go to the cell met first in
  reading order.
- BlurHash (https://blurha.sh): 4x3 components for landscape pictures, 3x4 for
  portrait, 4x4 for square; 28 or 36 characters of base 83. Encoded by the
  ``blurhash`` package (pure Python, no dependencies, MIT; about 3 ms on 32x24
  pixels); a page decodes it with any BlurHash decoder (a few dozen lines of JS).
"""

from __future__ import annotations

from collections import Counter

import blurhash  # type: ignore[import-untyped]  # pure Python, no stubs
from PIL import Image

PLACEHOLDER_SIDE_PX = 32
"""Longest side of the pixels both placeholders are computed from. BlurHash keeps
at most 4 cosine components per axis, so more pixels change nothing visible."""

_BACKGROUND = (255, 255, 255)


def placeholder_pixels(image: Image.Image) -> Image.Image:
    """``image`` (RGB, L, RGBA or LA) as RGB, alpha over white, longest side <= 32 px."""
    if image.mode in ("RGBA", "LA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (*_BACKGROUND, 255))
        image = Image.alpha_composite(background, rgba)
    image = image.convert("RGB")
    width, height = image.size
    scale = PLACEHOLDER_SIDE_PX / max(width, height)
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
    return image


def dominant_color(pixels: Image.Image) -> str:
    """``#rrggbb`` of the most populated 4-bit-per-channel cell of RGB ``pixels``."""
    raw = pixels.tobytes()
    cells: Counter[int] = Counter()
    for i in range(0, len(raw), 3):
        cells[(raw[i] >> 4) << 8 | (raw[i + 1] >> 4) << 4 | raw[i + 2] >> 4] += 1
    top = cells.most_common(1)[0][0]
    sums = [0, 0, 0]
    for i in range(0, len(raw), 3):
        if (raw[i] >> 4) << 8 | (raw[i + 1] >> 4) << 4 | raw[i + 2] >> 4 == top:
            sums[0] += raw[i]
            sums[1] += raw[i + 1]
            sums[2] += raw[i + 2]
    count = cells[top]
    red, green, blue = ((s + count // 2) // count for s in sums)
    return f"#{red:02x}{green:02x}{blue:02x}"


def blurhash_of(pixels: Image.Image) -> str:
    """The BlurHash string of RGB ``pixels`` (components by aspect, module docstring)."""
    width, height = pixels.size
    components_x = 4 if width >= height else 3
    components_y = 4 if height >= width else 3
    raw = pixels.tobytes()
    rows = [
        [raw[i : i + 3] for i in range(y * width * 3, (y + 1) * width * 3, 3)]
        for y in range(height)
    ]
    return str(blurhash.encode(rows, components_x, components_y))
