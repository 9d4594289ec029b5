"""Opening and decoding with limits: header first, budget checked, then pixels.

Each allowed format is opened by exactly one decoder class, chosen from the
sniffed format (never Pillow's probing of every registered plugin), and
without touching process-wide Pillow settings: ``Image.MAX_IMAGE_PIXELS``,
``ImageFile.LOAD_TRUNCATED_IMAGES`` (stays ``False``) and the plugin registry
are left alone; HEIF is opened through pillow-heif's image class directly, so
no opener is registered either. Limits are arguments:

- ``max_pixels``: declared width x height from the header, before any pixel
  is decoded (Pillow's own decompression-bomb error also maps here);
- ``max_decode_bytes``: estimated peak bytes of decoding, after the JPEG draft
  scale is known (see :func:`imgproc.cost.decode_cost_bytes`).

Every failure becomes :class:`~imgproc.errors.ImageRejected`.
"""

from __future__ import annotations

import importlib
import io
import struct
import zlib
from collections.abc import Callable

from PIL import Image, ImageFile

from imgproc import png_fast, sniff
from imgproc.cost import decode_cost_bytes
from imgproc.errors import CORRUPT, TOO_MANY_PIXELS, TRUNCATED, ImageRejected

DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    zlib.error,
    RuntimeError,
    MemoryError,
    ArithmeticError,  # OverflowError, and ZeroDivisionError from a zero in a header field
)
"""What Pillow's and pillow-heif's parsers raise on bad input (never ``Exception``:
a bug in the engine itself must stay visible)."""

_REJECTED_ERRORS: tuple[type[BaseException], ...] = (*DECODE_ERRORS, Image.DecompressionBombError)
""":data:`DECODE_ERRORS` and Pillow's decompression-bomb error: every way opening or
decoding says no."""


class _Reader(io.BytesIO):
    """BytesIO that remembers whether a sized read came back short (hit the end)."""

    hit_end = False

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        if size is not None and size > 0 and len(chunk) < size:
            self.hit_end = True
        return chunk


_DECODERS: dict[str, tuple[str, str]] = {
    sniff.JPEG: ("PIL.JpegImagePlugin", "jpeg_factory"),
    sniff.PNG: ("PIL.PngImagePlugin", "PngImageFile"),
    sniff.GIF: ("PIL.GifImagePlugin", "GifImageFile"),
    sniff.WEBP: ("PIL.WebPImagePlugin", "WebPImageFile"),
    sniff.TIFF: ("PIL.TiffImagePlugin", "TiffImageFile"),
    sniff.BMP: ("PIL.BmpImagePlugin", "BmpImageFile"),
    sniff.AVIF: ("PIL.AvifImagePlugin", "AvifImageFile"),
    sniff.HEIF: ("pillow_heif.as_plugin", "HeifImageFile"),
}
"""``format -> (module, class or factory)``: the one decoder of each allowed format,
imported on first use (opening a PNG never loads the HEIF library)."""


def _factory(fmt: str) -> Callable[..., ImageFile.ImageFile]:
    """The one decoder class (or factory) for an allowed format."""
    if fmt not in _DECODERS:
        msg = f"no decoder for format {fmt!r}"
        raise ValueError(msg)
    module, name = _DECODERS[fmt]
    factory: Callable[..., ImageFile.ImageFile] = getattr(importlib.import_module(module), name)
    return factory


def _reason(error: BaseException, data: bytes, fmt: str, *, hit_end: bool) -> str:
    if isinstance(error, Image.DecompressionBombError | MemoryError):
        return TOO_MANY_PIXELS
    text = str(error).lower()
    if isinstance(error, EOFError) or "truncat" in text or hit_end:
        return TRUNCATED
    if sniff.container_truncated(data, fmt):
        return TRUNCATED
    return CORRUPT


def open_image(data: bytes, fmt: str) -> ImageFile.ImageFile:
    """Parse the header of ``data`` as ``fmt`` without decoding pixels.

    Raises:
        ImageRejected: ``truncated`` when the header runs past the end of the
            data, ``too_many_pixels`` for Pillow's decompression-bomb error,
            ``corrupt`` otherwise.
    """
    reader = _Reader(data)
    try:
        image = _factory(fmt)(reader)
    except _REJECTED_ERRORS as e:
        reason = _reason(e, data, fmt, hit_end=reader.hit_end)
        msg = f"cannot read the {fmt} header: {e}"
        raise ImageRejected(reason, msg) from e
    if image.width < 1 or image.height < 1:
        image.close()
        msg = f"expected a positive size, got {image.width}x{image.height}"
        raise ImageRejected(CORRUPT, msg)
    return image


def check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    """Reject a declared ``size`` (width, height) above ``max_pixels``.

    Raises:
        ImageRejected: ``too_many_pixels``.
    """
    width, height = size
    if width * height > max_pixels:
        msg = f"expected at most {max_pixels} pixels, got {width}x{height} = {width * height}"
        raise ImageRejected(TOO_MANY_PIXELS, msg)


def check_decode_cost(
    image: ImageFile.ImageFile, fmt: str, stored_size: tuple[int, int], max_decode_bytes: int
) -> None:
    """Reject ``image`` when decoding it would need more than ``max_decode_bytes``.

    Raises:
        ImageRejected: ``too_many_pixels``.
    """
    cost = decode_cost_bytes(image, fmt, stored_size)
    if cost > max_decode_bytes:
        msg = (
            f"decoding {image.width}x{image.height} {image.mode} {fmt} needs about "
            f"{cost // 1_000_000} MB, expected at most {max_decode_bytes // 1_000_000} MB"
        )
        raise ImageRejected(TOO_MANY_PIXELS, msg)


def load_image(image: ImageFile.ImageFile, data: bytes, fmt: str, *, max_decode_bytes: int) -> None:
    """Decode the pixels of ``image`` (the first frame/page only).

    8-bit RGB and RGBA PNGs go through libspng when it is installed
    (:mod:`imgproc.png_fast`: same pixels, about a third less CPU); every other
    image, and any PNG libspng refuses, through Pillow's decoder. ``max_decode_bytes``
    is the budget already checked by :func:`check_decode_cost`: the fast path is
    only taken when its own peak fits it.

    Raises:
        ImageRejected: ``truncated`` when the data ends early, ``too_many_pixels``
            for decompression bombs found while decoding, ``corrupt`` otherwise.
    """
    try:
        if fmt != sniff.PNG or not png_fast.decode_into(image, data, max_decode_bytes):
            image.load()
    except _REJECTED_ERRORS as e:
        reason = _reason(e, data, fmt, hit_end=False)
        msg = f"cannot decode the {fmt} pixels: {e}"
        raise ImageRejected(reason, msg) from e
