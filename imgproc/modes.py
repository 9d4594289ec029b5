"""Pillow modes: which mode an image is resized in, and how the small result becomes 8-bit.

Resizing happens in a *working mode* that Pillow can resample with LANCZOS and
that is correct to average in:

- ``RGB``, ``L``, ``CMYK``: resized as stored;
- alpha (``RGBA``, ``LA``, ``PA``, palette with ``tRNS``/GIF transparency):
  premultiplied ``RGBa``/``La``, so colour under fully transparent pixels has
  weight zero and never bleeds into the edges;
- ``1`` -> ``L``; ``P`` -> ``RGB``; ``RGBX``/``YCbCr``/``HSV`` -> ``RGB``;
- high bit depth (``I;16``, ``I;16B``, ``I``, ``F``): resized at full precision in
  ``I``/``F`` and scaled to 8 bits afterwards on the small image (not clipped:
  16-bit 32768 becomes 128).

The conversion to the working mode is a function applied to horizontal bands of
the full-size image (see :mod:`imgproc.shrink`) so no full-size converted copy
ever exists.
"""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image, ImageCms

Converter = Callable[[Image.Image], Image.Image]

_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_LAB_TRANSFORM: list[ImageCms.ImageCmsTransform] = []


def has_transparency(image: Image.Image) -> bool:
    """Whether ``image`` carries alpha: an alpha band, a palette ``tRNS``/GIF
    transparency index, or an RGBA palette."""
    if image.mode in _ALPHA_MODES:
        return True
    if image.mode in ("P", "L", "RGB", "1") and "transparency" in image.info:
        return True
    return image.mode == "P" and image.palette is not None and image.palette.mode == "RGBA"


def working_mode(image: Image.Image, *, premultiply: bool = True) -> tuple[str, Converter | None]:
    """Return ``(mode, converter)`` for resizing ``image``.

    ``converter`` turns a band of ``image`` into ``mode``; ``None`` means the
    stored mode is used directly. With ``premultiply=False`` (nothing will be
    resampled) alpha stays straight ``RGBA``/``LA``, which is lossless.

    Raises:
        ValueError: the mode cannot be converted to any working mode.
    """
    mode = image.mode
    if mode in ("RGB", "L") and "transparency" in image.info:
        return _alpha(("RGBA" if mode == "RGB" else "LA"), premultiply)
    if mode in ("RGB", "L", "CMYK", "RGBa", "La", "I", "F"):
        return mode, None
    if mode in ("RGBA", "LA") and not premultiply:
        return mode, None
    if mode.startswith("I;16"):
        return "I", _plain("I")
    if has_transparency(image):
        return _alpha("LA" if mode == "LA" else "RGBA", premultiply)
    if mode == "1":
        return "L", _plain("L")
    if mode in ("P", "RGBX", "YCbCr", "HSV"):
        return "RGB", _plain("RGB")
    if mode == "LAB":
        return "RGB", _lab_to_srgb
    msg = f"unsupported pixel mode {mode!r}"
    raise ValueError(msg)


def _alpha(straight: str, premultiply: bool) -> tuple[str, Converter]:
    if not premultiply:
        return straight, _plain(straight)
    return ("RGBa" if straight == "RGBA" else "La"), _via(straight)


def _plain(mode: str) -> Converter:
    return lambda band: band.convert(mode)


def _via(alpha_mode: str) -> Converter:
    premultiplied = "RGBa" if alpha_mode == "RGBA" else "La"

    def convert(band: Image.Image) -> Image.Image:
        if band.mode != alpha_mode:
            band = band.convert(alpha_mode)
        return band.convert(premultiplied)

    return convert


def _lab_to_srgb(band: Image.Image) -> Image.Image:
    if not _LAB_TRANSFORM:
        _LAB_TRANSFORM.append(
            ImageCms.buildTransform(
                ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB"
            )
        )
    return _LAB_TRANSFORM[0].apply(band)


def to_8bit(image: Image.Image, *, source_mode: str) -> Image.Image:
    """Turn a small resized image in a working mode into an 8-bit output mode.

    ``RGBa``/``La`` are un-premultiplied to ``RGBA``/``LA``. ``I`` and ``F`` are
    scaled linearly to ``L``: data from a 16-bit source (``source_mode``
    ``I;16*``) by 255/65535; otherwise the full scale is guessed from the
    maximum (1.0 for float data, 255, 65535, or the maximum itself), negative
    values clip to 0. ``RGB``, ``L``, ``CMYK`` pass through.
    """
    if image.mode == "RGBa":
        return image.convert("RGBA")
    if image.mode == "La":
        return image.convert("LA")
    if image.mode not in ("I", "F"):
        return image
    if source_mode.startswith("I;16"):
        full_scale = 65535.0
    else:
        high = image.getextrema()[1]
        high = float(high) if isinstance(high, int | float) else 0.0
        if image.mode == "F" and high <= 1.0:
            full_scale = 1.0
        elif high <= 255:
            full_scale = 255.0
        elif high <= 65535:
            full_scale = 65535.0
        else:
            full_scale = high
    scale = 255.0 / full_scale
    scaled = image.point(lambda value: value * scale + 0.5)
    return scaled.convert("L")
