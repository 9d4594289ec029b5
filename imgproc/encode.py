"""Encoding renditions: JPEG for opaque pictures and PNG when alpha remains (``auto``),
or an explicit JPEG, PNG, WebP or AVIF.

Always a fresh encode of the pixels alone: the image's ``info`` (EXIF, XMP,
ICC, comments, text chunks, DPI) is dropped first, because some Pillow
encoders fall back to ``info`` (the JPEG comment, the PNG ICC profile) when
no explicit value is given. Output pixels are sRGB and carry no profile
(untagged means sRGB on the web).

Encoder settings were measured on 320/640/1280 px renditions of three real photos
(Pillow 13, libwebp 1.6, libavif 1.4 with aom 3.14; CPU ms on one core):

- WebP method 2 takes half the time of libwebp's default 4 (1280 px: 45 vs 100 ms)
  for files about 4 % larger at the same quality; 0 and 1 are faster again but
  lose to method 2 at equal bytes.
- AVIF speed 9 takes a quarter of speed 8's time (1280 px: 60-87 ms vs 135-378 ms;
  320 px: 6-8 ms vs 27-36 ms) for files 0-6 % larger and 0.2-0.5 dB PSNR lower;
  speed 10 gives the same bytes as 9 with this aom. Pillow's default speed 6 takes
  10x longer again. One encoder thread: Lambda below 1,769 MB has one vCPU anyway,
  the CLI parallelises over files (``--jobs``), and the bytes never depend on the
  machine's core count.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, features

from imgproc import renditions as spec

JPEG_QUALITY = 85
"""libjpeg quality 1-95 for opaque output."""

JPEG_SUBSAMPLING = "4:2:0"
"""Chroma subsampling, fixed so it never depends on the input's."""

OUTPUT_EXTENSIONS = ("jpg", "png", "webp", "avif")
"""Every extension :func:`encode` gives (:attr:`imgproc.Result.extension`); the CLIs'
guard against writing over an input checks each of them, so a new output format
must be added here."""

PNG_COMPRESS_LEVEL = 2
"""zlib level 0-9 for output with alpha. On 500 px photos level 2 takes a quarter
of the default 6's time for files about 10 % larger (still a third smaller than
libvips' default PNGs, which skip filtering)."""

WEBP_QUALITY = 80
"""libwebp quality 0-100 (Pillow's default)."""

WEBP_METHOD = 2
"""libwebp method 0-6 (effort; see the module docstring)."""

AVIF_QUALITY = 60
"""libavif quality 0-100: about half the bytes of JPEG quality 85 on photos."""

AVIF_SPEED = 9
"""libavif speed 0-10 (see the module docstring)."""

AVIF_MAX_THREADS = 1
"""Encoder threads (see the module docstring)."""

FLATTEN_BACKGROUND = (255, 255, 255)
"""Colour behind transparent pixels when a rendition asks for JPEG: white, a page's usual."""

_CONTENT_TYPES = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "AVIF": ("image/avif", "avif"),
}


@dataclass(frozen=True, slots=True)
class Encoded:
    """Encoded output bytes and how to label them."""

    data: bytes
    format: str
    content_type: str
    extension: str


def encode(image: Image.Image) -> Encoded:
    """Encode ``image`` (mode RGB, L, RGBA or LA) without any metadata: the ``auto`` rule.

    RGB and L become baseline JPEG (quality :data:`JPEG_QUALITY`, 4:2:0 for
    colour, Huffman tables optimised); RGBA and LA become PNG.

    Raises:
        ValueError: for any other mode (a bug upstream, not bad input).
    """
    return encode_as(image, spec.AUTO)


def encode_as(
    image: Image.Image,
    fmt: str,
    *,
    quality: int | None = None,
    speed: int | None = None,
    method: int | None = None,
    compress_level: int | None = None,
) -> Encoded:
    """Encode ``image`` (mode RGB, L, RGBA or LA) as ``fmt`` without any metadata.

    Args:
        image: upright sRGB pixels; its ``info`` is cleared.
        fmt: a requested format (:data:`imgproc.renditions.FORMATS`): ``auto``
            (see :func:`encode`), ``jpeg`` (alpha composited over
            :data:`FLATTEN_BACKGROUND`; L stays greyscale), ``png``, ``webp`` or
            ``avif`` (both keep alpha; L and LA become RGB and RGBA for WebP, LA
            becomes RGBA for AVIF).
        quality, speed, method, compress_level: Pillow's save parameters;
            ``None`` takes this module's defaults.

    Raises:
        ValueError: an unknown ``fmt`` or a mode other than RGB, L, RGBA, LA (a bug
            upstream, not bad input).
        OSError: the encoder is not compiled into this Pillow (see
            :func:`missing_encoders`).
    """
    if image.mode not in ("RGB", "L", "RGBA", "LA"):
        msg = f"expected mode RGB, L, RGBA or LA to encode, got {image.mode!r}"
        raise ValueError(msg)
    image.info = {}
    alpha = image.mode in ("RGBA", "LA")
    if fmt == spec.AUTO:
        fmt = spec.PNG if alpha else spec.JPEG
    elif fmt == spec.JPEG and alpha:
        image = _flatten(image)
    buffer = io.BytesIO()
    if fmt == spec.JPEG:
        image.save(
            buffer,
            "JPEG",
            quality=JPEG_QUALITY if quality is None else quality,
            subsampling=JPEG_SUBSAMPLING,
            optimize=True,
        )
        return _labelled(buffer, "JPEG")
    if fmt == spec.PNG:
        level = PNG_COMPRESS_LEVEL if compress_level is None else compress_level
        image.save(buffer, "PNG", compress_level=level)
        return _labelled(buffer, "PNG")
    if fmt == spec.WEBP:
        if image.mode in ("L", "LA"):
            image = image.convert("RGBA" if alpha else "RGB")
        image.save(
            buffer,
            "WEBP",
            quality=WEBP_QUALITY if quality is None else quality,
            method=WEBP_METHOD if method is None else method,
        )
        return _labelled(buffer, "WEBP")
    if fmt == spec.AVIF:
        if image.mode == "LA":
            image = image.convert("RGBA")
        image.save(
            buffer,
            "AVIF",
            quality=AVIF_QUALITY if quality is None else quality,
            speed=AVIF_SPEED if speed is None else speed,
            max_threads=AVIF_MAX_THREADS,
        )
        return _labelled(buffer, "AVIF")
    msg = f"expected a format in {', '.join(spec.FORMATS)}, got {fmt!r}"
    raise ValueError(msg)


def _labelled(buffer: io.BytesIO, pillow_format: str) -> Encoded:
    content_type, extension = _CONTENT_TYPES[pillow_format]
    return Encoded(buffer.getvalue(), pillow_format, content_type, extension)


def _flatten(image: Image.Image) -> Image.Image:
    """RGBA -> RGB, LA -> L, composited over :data:`FLATTEN_BACKGROUND`."""
    if image.mode == "LA":
        grey = round(sum(FLATTEN_BACKGROUND) / 3)
        background = Image.new("LA", image.size, (grey, 255))
        return Image.alpha_composite(background.convert("RGBA"), image.convert("RGBA")).convert("L")
    background = Image.new("RGBA", image.size, (*FLATTEN_BACKGROUND, 255))
    return Image.alpha_composite(background, image).convert("RGB")


def missing_encoders(formats: set[str] | frozenset[str]) -> list[str]:
    """The requested formats (``webp``, ``avif``...) this Pillow cannot encode, sorted.

    For a settings check at start-up: a set asking for AVIF on a Pillow built
    without libavif fails there, not on the first upload.
    """
    needed = {spec.WEBP: "webp", spec.AVIF: "avif"}
    return sorted(f for f in formats if f in needed and not features.check(needed[f]))
