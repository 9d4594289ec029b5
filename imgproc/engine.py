"""PLACEHOLDER engine: a minimal process() so the adapters can be built against
the contract. The real engine replaces this module."""

from __future__ import annotations

import io

from PIL import Image, ImageOps, UnidentifiedImageError

from imgproc.errors import CORRUPT, EMPTY, UNSUPPORTED_FORMAT, ImageRejected
from imgproc.result import Result

DEFAULT_MAX_DIM_PX = 500
DEFAULT_MAX_PIXELS = 100_000_000


def process(
    data: bytes,
    *,
    max_dim: int = DEFAULT_MAX_DIM_PX,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Result:
    """Resize ``data`` so its longest side is at most ``max_dim`` pixels."""
    if not data:
        raise ImageRejected(EMPTY, "the file is empty")
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as e:
        raise ImageRejected(UNSUPPORTED_FORMAT, "not a recognised image") from e
    try:
        original = (image.width, image.height, image.format, image.mode)
        image = ImageOps.exif_transpose(image)
        has_alpha = "A" in image.mode
        image = image.convert("RGBA" if has_alpha else "RGB")
        image.thumbnail((max_dim, max_dim), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        fmt = "PNG" if has_alpha else "JPEG"
        image.save(out, fmt)
    except OSError as e:
        raise ImageRejected(CORRUPT, str(e)) from e
    return Result(
        data=out.getvalue(),
        format=fmt,
        content_type="image/png" if has_alpha else "image/jpeg",
        extension="png" if has_alpha else "jpg",
        width=image.width,
        height=image.height,
        original_width=original[0],
        original_height=original[1],
        original_format=original[2] or "",
        original_mode=original[3],
        has_alpha=has_alpha,
        orientation=None,
        icc_converted=False,
    )
