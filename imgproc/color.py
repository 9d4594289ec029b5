"""Colour: embedded ICC profiles to sRGB, CMYK to RGB, on the small image.

LittleCMS through Pillow's ``ImageCms``. Transforms are built once per
(profile bytes, modes) and cached. A profile that LittleCMS cannot read, or
that does not match the pixel mode (an RGB profile on a CMYK image, ...), is
ignored: the pixels are then taken as sRGB (or converted naively for CMYK),
never rejected.

Converting after the downscale is what every thumbnailer does: resampling
happens in the source's encoded space either way, and the transform then
touches 500x500 pixels instead of millions.
"""

from __future__ import annotations

import io
from functools import lru_cache

from PIL import Image, ImageCms

_INTENT = ImageCms.Intent.PERCEPTUAL
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_TRANSFORM_CACHE_SIZE = 32

# Pillow mode of the pixels -> (LittleCMS input mode, output mode)
_MODES = {
    "RGB": ("RGB", "RGB"),
    "RGBA": ("RGBA", "RGBA"),
    "CMYK": ("CMYK", "RGB"),
    "L": ("L", "RGB"),
    "LA": ("LA", "RGBA"),
}


@lru_cache(maxsize=_TRANSFORM_CACHE_SIZE)
def _transform(icc: bytes, in_mode: str, out_mode: str) -> ImageCms.ImageCmsTransform | None:
    """Build (once) the transform from profile ``icc`` to sRGB, or ``None`` if unusable."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.buildTransform(profile, _SRGB, in_mode, out_mode, _INTENT)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None


def to_srgb(image: Image.Image, icc: bytes | None) -> tuple[Image.Image, bool]:
    """Convert ``image`` (mode RGB, RGBA, L, LA or CMYK) to sRGB.

    Args:
        image: a small image in an 8-bit output mode.
        icc: the embedded ICC profile bytes of the source, or ``None``.

    Returns:
        ``(image, icc_converted)``: the image in ``RGB``, ``RGBA``, ``L`` or
        ``LA`` (CMYK always becomes RGB; greyscale stays greyscale) and whether
        an embedded profile was applied.
    """
    modes = _MODES.get(image.mode)
    transform = _transform(bytes(icc), *modes) if icc and modes else None
    if transform is None:
        if image.mode == "CMYK":
            return image.convert("RGB"), False
        return image, False
    try:
        converted = ImageCms.applyTransform(image, transform)
    except (ImageCms.PyCMSError, ValueError, OSError):
        if image.mode == "CMYK":
            return image.convert("RGB"), False
        return image, False
    assert converted is not None
    if image.mode in ("L", "LA"):  # neutral in, neutral out: keep greyscale
        converted = converted.convert(image.mode)
    return converted, True
