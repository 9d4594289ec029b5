"""The image engine: one upright, sRGB, metadata-free rendition of an uploaded image.

Pipeline (each step in its own module):

1. :mod:`imgproc.sniff` - magic bytes decide the format, from an allow-list;
   :mod:`imgproc.structure` - caps on chunk/segment/strip counts.
2. :mod:`imgproc.decode` - header only; declared pixels checked against
   ``max_pixels``; JPEGs get a DCT-domain draft scale for the output size;
   the decode cost is checked against ``max_decode_bytes``; then the first
   frame/page is decoded.
3. :mod:`imgproc.shrink` - LANCZOS to the fitted size (box-reduce first), in a
   working mode from :mod:`imgproc.modes` (premultiplied alpha, 16-bit kept
   wide), band by band when a mode conversion is needed.
4. :mod:`imgproc.modes`, :mod:`imgproc.color`, :mod:`imgproc.orientation` - on
   the small image: back to 8 bits, ICC/CMYK to sRGB, EXIF orientation.
5. :mod:`imgproc.encode` - JPEG when opaque, PNG when alpha remains.

Steps 1-4 are :func:`decode_upright`; :func:`imgproc.process_set`
(:mod:`imgproc.rendition_engine`) runs them once for a whole rendition set.

Choices worth knowing:

- Animated GIF/WebP/APNG and multi-page TIFF/HEIF: only the first frame (the
  primary image for HEIF, the default image for APNG) is decoded, as a still;
  frames are never counted or iterated, so thousands of frames cost nothing.
- An alpha channel that is fully opaque after resizing is dropped and the
  output becomes JPEG; any transparency left keeps PNG with alpha.
- The output never carries EXIF, XMP, IPTC, comments, text chunks or an ICC
  profile; its pixels are sRGB.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from PIL import Image, ImageFile

from imgproc import decode, sniff
from imgproc.color import to_srgb
from imgproc.encode import encode
from imgproc.errors import CORRUPT, EMPTY, UNSUPPORTED_FORMAT, ImageRejected
from imgproc.frames import is_animated
from imgproc.modes import to_8bit, working_mode
from imgproc.orientation import apply_orientation, read_orientation
from imgproc.result import Result
from imgproc.shrink import DEFAULT_REDUCING_GAP, fit_size, shrink
from imgproc.structure import check_structure

DEFAULT_MAX_DIM_PX = 500
"""Longest side of the output in pixels."""

DEFAULT_MAX_PIXELS = 100_000_000
"""Most pixels (width x height, as declared by the header) an input may have.

100 MP accepts every camera and phone photo (a 24 MP photo is far inside).
Memory is bounded separately by :data:`DEFAULT_MAX_DECODE_BYTES`, because a
pixel costs 1 to 8 bytes depending on format and mode."""

DEFAULT_JPEG_DRAFT_MARGIN = 1.0
"""JPEGs are decoded at the smallest DCT scale (1/8, 1/4, 1/2, 1) whose size is
at least this multiple of the output size, then LANCZOS-resized.

1.0 (the fitted size) is the fastest: a 12 MP 4000x3000 JPEG decodes at 1/8
straight to 500x375. That DCT scale is a box average, so on smooth, detailed
pictures the result measures up to ~0.9 dB PSNR below a full-resolution LANCZOS
thumbnail (on grainy photos ~0.3 dB). 2.0 matches Pillow's ``thumbnail`` quality
at roughly 1.2-1.5x the time."""

DEFAULT_MAX_DECODE_BYTES = 400_000_000
"""Most bytes decoding an input may need (estimated before decoding).

Sized for a 1 GB Lambda and a 512 MB peak per input: 400 MB of pixels plus
the interpreter and libraries (about 60 MB). A 100 MP JPEG decodes at 1/8
scale and needs a few MB; a 100 MP RGB PNG just fits; a 100 MP WebP/HEIF/TIFF
(decoded through a second buffer) does not and is refused as too_many_pixels."""


@dataclass(frozen=True, slots=True)
class Upright:
    """Decoded pixels at an output size, and what was learnt on the way.

    Attributes:
        image: upright, sRGB, 8-bit pixels in mode RGB, L, RGBA or LA (alpha only
            when some transparency remains at this size).
        original_width, original_height: the stored size (before orientation).
        original_format, original_mode: the sniffed format and the header's mode.
        orientation: the EXIF orientation (2-8) that was applied, or ``None``.
        icc_converted: an embedded ICC profile was converted to sRGB.
        animated: the input has more frames than the first (see :mod:`imgproc.frames`).
    """

    image: Image.Image
    original_width: int
    original_height: int
    original_format: str
    original_mode: str
    orientation: int | None
    icc_converted: bool
    animated: bool

    def header_facts(self) -> dict[str, object]:
        """What a rejection after decoding knows: format, stored size and mode."""
        return {
            "original_format": self.original_format,
            "original_width": self.original_width,
            "original_height": self.original_height,
            "original_mode": self.original_mode,
        }


def process(
    data: bytes,
    *,
    max_dim: int = DEFAULT_MAX_DIM_PX,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_decode_bytes: int = DEFAULT_MAX_DECODE_BYTES,
    reducing_gap: float = DEFAULT_REDUCING_GAP,
    jpeg_draft_margin: float = DEFAULT_JPEG_DRAFT_MARGIN,
) -> Result:
    """Make one rendition of ``data`` whose longest side is at most ``max_dim``.

    Args:
        data: the complete uploaded file (bytes-like); its name is irrelevant,
            the content is sniffed.
        max_dim: longest output side in pixels (>= 1); images already within
            it keep their size (never upscaled) but are still re-encoded.
        max_pixels: limit on declared width x height.
        max_decode_bytes: limit on the estimated memory for decoding.
        reducing_gap: box-reduce factor margin before LANCZOS (see
            :data:`imgproc.shrink.DEFAULT_REDUCING_GAP`).
        jpeg_draft_margin: see :data:`DEFAULT_JPEG_DRAFT_MARGIN`.

    Returns:
        The encoded rendition and its facts (``original_width``/``original_height``
        are the stored size, before EXIF orientation; ``width``/``height`` are upright).

    Raises:
        ImageRejected: with ``reason`` ``empty``, ``unsupported_format``,
            ``truncated``, ``corrupt``, ``too_many_pixels`` or ``too_large``
            (more container structure than any real encoder writes). Its
            ``facts`` hold ``original_format`` once the format was sniffed, and
            ``original_width``/``original_height`` (stored, before orientation)
            and ``original_mode`` once the header was parsed; empty for
            ``empty`` and ``unsupported_format``.
        ValueError: ``max_dim``, a limit or ``jpeg_draft_margin`` is below 1 (a caller bug).
    """
    upright = decode_upright(
        data,
        max_dim=max_dim,
        max_pixels=max_pixels,
        max_decode_bytes=max_decode_bytes,
        reducing_gap=reducing_gap,
        jpeg_draft_margin=jpeg_draft_margin,
    )
    small = upright.image
    try:
        encoded = encode(small)
    except decode.DECODE_ERRORS as e:
        msg = f"cannot encode {small.mode} pixels of a {upright.original_format}: {e}"
        rejection = ImageRejected(CORRUPT, msg)
        rejection.add_facts(upright.header_facts())
        raise rejection from e
    return Result(
        data=encoded.data,
        format=encoded.format,
        content_type=encoded.content_type,
        extension=encoded.extension,
        width=small.width,
        height=small.height,
        original_width=upright.original_width,
        original_height=upright.original_height,
        original_format=upright.original_format,
        original_mode=upright.original_mode,
        has_alpha=small.mode in ("RGBA", "LA"),
        orientation=upright.orientation,
        icc_converted=upright.icc_converted,
    )


def decode_upright(
    data: bytes,
    *,
    max_dim: int,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_decode_bytes: int = DEFAULT_MAX_DECODE_BYTES,
    reducing_gap: float = DEFAULT_REDUCING_GAP,
    jpeg_draft_margin: float = DEFAULT_JPEG_DRAFT_MARGIN,
) -> Upright:
    """Decode ``data`` into upright sRGB 8-bit pixels whose longest side is at most ``max_dim``.

    Steps 1-4 of the module docstring: everything :func:`process` does but the
    encode. The decoded full-size (or JPEG-draft) image is closed before this
    returns, so the only pixels alive afterwards are the result's.

    Arguments and errors: as :func:`process`.
    """
    if min(max_dim, max_pixels, max_decode_bytes) < 1 or jpeg_draft_margin < 1:
        msg = (
            "expected limits >= 1, got "
            f"{max_dim=} {max_pixels=} {max_decode_bytes=} {jpeg_draft_margin=}"
        )
        raise ValueError(msg)
    if not isinstance(data, bytes):
        data = bytes(data)  # bytearray / memoryview: sniffing and decoders want bytes
    if not data:
        raise ImageRejected(EMPTY, "the file is empty (0 bytes)")
    fmt = sniff.sniff_format(data)
    if fmt is None:
        msg = (
            f"expected one of {', '.join(sorted(sniff.ACCEPTED_FORMATS))}, "
            f"got {sniff.describe_unknown(data)}"
        )
        raise ImageRejected(UNSUPPORTED_FORMAT, msg)
    facts: dict[str, object] = {"original_format": fmt}
    try:
        check_structure(data, fmt)
        image = decode.open_image(data, fmt)
        # Before any draft(): the stored size and mode the header declares.
        facts.update(
            original_width=image.width, original_height=image.height, original_mode=image.mode
        )
        try:
            limits = (max_pixels, max_decode_bytes)
            return _render(image, data, fmt, max_dim, limits, reducing_gap, jpeg_draft_margin)
        finally:
            image.close()
    except ImageRejected as rejection:
        rejection.add_facts(facts)  # the one place rejections learn what was known
        raise


def _render(
    image: ImageFile.ImageFile,
    data: bytes,
    fmt: str,
    max_dim: int,
    limits: tuple[int, int],
    reducing_gap: float,
    jpeg_draft_margin: float,
) -> Upright:
    max_pixels, max_decode_bytes = limits
    stored_size = image.size
    original_mode = image.mode
    decode.check_pixels(stored_size, max_pixels)
    animated = is_animated(image, data, fmt)
    target = fit_size(stored_size, max_dim)
    box: tuple[float, float, float, float] = (0, 0, *stored_size)
    if fmt == sniff.JPEG:
        wanted = (ceil(target[0] * jpeg_draft_margin), ceil(target[1] * jpeg_draft_margin))
        drafted = image.draft(None, wanted)
        if drafted is not None:
            box = drafted[1]
    decode.check_decode_cost(image, fmt, stored_size, max_decode_bytes)
    decode.load_image(image, data, fmt, max_decode_bytes=max_decode_bytes)
    icc = image.info.get("icc_profile")
    orientation = read_orientation(image)
    try:
        _mode, convert = working_mode(image, premultiply=image.size != target)
        small = shrink(image, target, box=box, convert=convert, reducing_gap=reducing_gap)
        small = to_8bit(small, source_mode=image.mode)
        small = drop_opaque_alpha(small)
        small, icc_converted = to_srgb(small, icc if isinstance(icc, bytes) else None)
        small = apply_orientation(small, orientation)
    except decode.DECODE_ERRORS as e:
        msg = f"cannot convert {image.mode} {fmt} pixels: {e}"
        raise ImageRejected(CORRUPT, msg) from e
    return Upright(
        image=small,
        original_width=stored_size[0],
        original_height=stored_size[1],
        original_format=fmt,
        original_mode=original_mode,
        orientation=orientation,
        icc_converted=icc_converted,
        animated=animated,
    )


def drop_opaque_alpha(image: Image.Image) -> Image.Image:
    """RGBA/LA whose alpha is 255 everywhere -> RGB/L; anything else unchanged."""
    if image.mode not in ("RGBA", "LA"):
        return image
    low, _high = image.getchannel("A").getextrema()
    if low == 255:
        return image.convert(image.mode[:-1])
    return image


__all__ = [
    "DEFAULT_MAX_DECODE_BYTES",
    "DEFAULT_MAX_DIM_PX",
    "DEFAULT_MAX_PIXELS",
    "Upright",
    "decode_upright",
    "drop_opaque_alpha",
    "process",
]
