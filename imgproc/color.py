"""Colour: embedded ICC profiles to sRGB, CMYK to RGB, on the small image.

LittleCMS through Pillow's ``ImageCms``. Transforms are built once per
(profile digest, modes) and cached; the cache is keyed by a SHA-256 digest and
skips profiles above :data:`MAX_CACHED_PROFILE_BYTES`, so a long-lived process
fed hostile multi-megabyte profiles never keeps them alive. A profile that LittleCMS cannot read, or
that does not match the pixel mode (an RGB profile on a CMYK image, ...), is
ignored: the pixels are then taken as sRGB (or converted naively for CMYK),
never rejected.

Converting after the downscale is what every thumbnailer does: resampling
happens in the source's encoded space either way, and the transform then
touches 500x500 pixels instead of millions.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict

from PIL import Image, ImageCms

_INTENT = ImageCms.Intent.PERCEPTUAL
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_TRANSFORM_CACHE_SIZE = 32
MAX_CACHED_PROFILE_BYTES = 1 << 20
"""Profiles above this size (1 MB; camera and display profiles are a few KB) are
used once and not cached."""

_cache: OrderedDict[tuple[bytes, str, str], ImageCms.ImageCmsTransform | None] = OrderedDict()
_cache_lock = threading.Lock()

# Pillow mode of the pixels -> (LittleCMS input mode, output mode)
_MODES = {
    "RGB": ("RGB", "RGB"),
    "RGBA": ("RGBA", "RGBA"),
    "CMYK": ("CMYK", "RGB"),
    "L": ("L", "RGB"),
    "LA": ("LA", "RGBA"),
}


def _transform(icc: bytes, in_mode: str, out_mode: str) -> ImageCms.ImageCmsTransform | None:
    """The (cached) transform from profile ``icc`` to sRGB, or ``None`` if unusable."""
    if len(icc) > MAX_CACHED_PROFILE_BYTES:
        return _build(icc, in_mode, out_mode)
    key = (hashlib.sha256(icc).digest(), in_mode, out_mode)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    transform = _build(icc, in_mode, out_mode)
    with _cache_lock:
        _cache[key] = transform
        if len(_cache) > _TRANSFORM_CACHE_SIZE:
            _cache.popitem(last=False)
    return transform


def _build(icc: bytes, in_mode: str, out_mode: str) -> ImageCms.ImageCmsTransform | None:
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
