"""Geometry and downscaling: the output size, and a lean LANCZOS resize.

The resize is Pillow's own two-step ``reducing_gap`` scheme (a box ``reduce``
by an integer factor, then LANCZOS), run over horizontal bands when the image
first needs a mode conversion, so the only full-size buffer is the decoded
image itself.
"""

from __future__ import annotations

from PIL import Image

from imgproc.modes import Converter

LANCZOS = Image.Resampling.LANCZOS
DEFAULT_REDUCING_GAP = 2.0
"""Box-reduce down to at least this multiple of the output size before LANCZOS.

The value Pillow's ``thumbnail`` uses: PSNR against a pure LANCZOS resize stays
within a few hundredths of a dB of it, at a fraction of the cost (LANCZOS cost
grows with the remaining ratio)."""

_BAND_PIXELS = 1 << 20
"""Pixels per band when converting modes (about 4 MB per band)."""

Box = tuple[float, float, float, float]


def fit_size(size: tuple[int, int], max_dim: int) -> tuple[int, int]:
    """Return the output ``(width, height)`` in pixels for a stored ``size``.

    The longest side becomes exactly ``max_dim`` when the image is larger,
    the other side keeps the aspect ratio rounded to the nearest pixel (halves
    round up, at least 1). Images already within ``max_dim`` keep their size:
    never upscaled.
    """
    width, height = size
    if max(width, height) <= max_dim:
        return width, height
    if width >= height:
        return max_dim, max(1, (2 * height * max_dim + width) // (2 * width))
    return max(1, (2 * width * max_dim + height) // (2 * height)), max_dim


def shrink(
    image: Image.Image,
    size: tuple[int, int],
    *,
    box: Box,
    convert: Converter | None,
    reducing_gap: float = DEFAULT_REDUCING_GAP,
) -> Image.Image:
    """Resize the region ``box`` of ``image`` to ``size`` with LANCZOS.

    Args:
        image: the loaded full-size (or JPEG-draft-scaled) image.
        size: output ``(width, height)`` in pixels.
        box: source region ``(left, top, right, bottom)`` in pixels of ``image``
            (fractional after a JPEG draft).
        convert: turns a band of ``image`` into a resampling-capable working
            mode, or ``None`` when the stored mode is resized directly.
        reducing_gap: see :data:`DEFAULT_REDUCING_GAP`.

    Returns:
        A new image of ``size`` in the working mode.
    """
    if convert is None:
        if image.size == size and box == (0, 0, *image.size):
            return image.copy()
        return image.resize(size, LANCZOS, box=box, reducing_gap=reducing_gap)
    factor_x = int((box[2] - box[0]) / size[0] / reducing_gap) or 1
    factor_y = int((box[3] - box[1]) / size[1] / reducing_gap) or 1
    if factor_x == 1 and factor_y == 1:
        working = convert(image)
    else:
        working = _banded_reduce(image, convert, (factor_x, factor_y))
        box = (box[0] / factor_x, box[1] / factor_y, box[2] / factor_x, box[3] / factor_y)
    if working.size == size and box == (0, 0, *working.size):
        return working
    return working.resize(size, LANCZOS, box=box)


def _banded_reduce(image: Image.Image, convert: Converter, factor: tuple[int, int]) -> Image.Image:
    """Convert and box-reduce ``image`` band by band; same pixels as converting first."""
    factor_x, factor_y = factor
    width, height = image.size
    band_rows = max(factor_y, (_BAND_PIXELS // max(width, 1)) // factor_y * factor_y)
    out: Image.Image | None = None
    for top in range(0, height, band_rows):
        band = convert(image.crop((0, top, width, min(top + band_rows, height))))
        reduced = band.reduce(factor)
        if out is None:
            out_size = (-(-width // factor_x), -(-height // factor_y))
            out = Image.new(reduced.mode, out_size)
        out.paste(reduced, (0, top // factor_y))
    assert out is not None  # height >= 1
    return out
