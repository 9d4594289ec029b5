"""PNG pixels through libspng: Pillow's pixels, in about two thirds of its CPU.

Pillow unfilters PNG scanlines one byte at a time (its Paeth filter is scalar C);
libspng, the decoder libvips uses (fuzzed by OSS-Fuzz), has SIMD unfiltering for
3- and 4-byte pixels. On a 6 MP RGBA PNG the decode drops from about 143 ms to
about 95 ms of CPU with the same zlib (benchmarks/README.md, "Levers measured").
Greyscale, palette and 16-bit PNGs decode no faster through libspng (measured,
Pillow vs libspng: 8-bit grey 32 vs 33 ms, 16-bit grey 45 vs 47 ms, a palette PNG
10.9 ms as indices vs 11.5 ms expanded to RGB), so they stay with Pillow.

libspng comes from the ``pyspng`` wheel, whose extension module links it
statically and exports its C API; it is called through :mod:`ctypes` rather than
pyspng's Python function, which would import numpy (about 0.1-0.2 s at the first
PNG of a process), copy the input, and skip the zlib Adler-32 check that Pillow's
decoder makes (a PNG with a wrong checksum must stay ``corrupt``). ctypes releases
the GIL during the decode. Without pyspng (or without those symbols) every PNG
goes through Pillow, as before.

The fast path only replaces the pixel decode. Pillow still opens the file and
parses every chunk before the image data (size, mode, ICC profile, ``tRNS``,
animation), the engine's limits run before it, and Pillow's own
``load_end`` reads the chunks after the image data (``eXIf``, text) and raises
its own errors for them. It is taken for non-interlaced, non-animated 8-bit
``RGB`` (no ``tRNS``) and ``RGBA``; anything else, and any refusal by libspng,
falls back to Pillow's decoder, which then decides the rejection reason: the
outcome (pixels, or reason) is Pillow's for every input
(tests/unit/test_png_fast.py compares both paths on damaged files).
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import os
import struct
from typing import Any

from PIL import Image, ImageFile

_COLOUR_TYPES = {2: "RGB", 6: "RGBA"}
"""PNG colour type (IHDR) -> the Pillow mode the fast path decodes it to, at 8 bits."""

_SPNG_FORMATS = {"RGB": 4, "RGBA": 1}
"""Pillow mode -> libspng output format (``SPNG_FMT_RGB8``, ``SPNG_FMT_RGBA8``; spng.h 0.7)."""

_BYTES_PER_PIXEL = {"RGB": 3, "RGBA": 4}

_SPNG_CRC_ERROR = 0
"""Check critical chunks' CRC-32 and the zlib stream's Adler-32, as Pillow does."""

_SPNG_CRC_USE = 2
"""Ancillary chunks: not checked again (Pillow checked those before the image data)."""

MAX_CHUNK_CACHE_BYTES = 64 * 1024 * 1024
"""libspng's limit on decompressed ancillary data (text, ICC) it keeps; Pillow's
``MAX_TEXT_MEMORY`` is the same 64 MB. Beyond it libspng refuses and Pillow decodes."""

_PILLOW_BUFFER_BYTES_PER_PIXEL = 4
"""Pillow stores RGB at 4 bytes per pixel: an RGB decode holds libspng's 3-byte
buffer and Pillow's copy at once."""


class _Refused(Exception):
    """libspng could not decode the data (or could not be called): Pillow decides."""


def decode_into(image: ImageFile.ImageFile, data: bytes, max_decode_bytes: int) -> bool:
    """Decode the pixels of the opened PNG ``image`` through libspng, if it qualifies.

    Args:
        image: a ``PngImageFile`` opened from ``data``, header parsed, not loaded.
        data: the whole PNG file.
        max_decode_bytes: the engine's decode budget; an RGB decode needs 7 bytes
            per pixel here (libspng's buffer and Pillow's copy) against Pillow's 4,
            and goes through Pillow when that does not fit.

    Returns:
        ``True`` when ``image`` is loaded (pixels and the chunks after them, as
        ``image.load()`` leaves it); ``False`` when nothing was done and Pillow's
        ``image.load()`` must decode it.

    Raises:
        What Pillow's ``load_end`` raises for damaged chunks after the image
        data, exactly as ``image.load()`` would.
    """
    mode = _eligible_mode(image, data)
    if mode is None:
        return False
    width, height = image.size
    peak = width * height * _BYTES_PER_PIXEL[mode]
    if mode == "RGB":
        peak += width * height * _PILLOW_BUFFER_BYTES_PER_PIXEL
    if peak > max_decode_bytes:
        return False
    library = _library()
    if library is None:
        return False
    try:
        pixels = _decode(library, data, mode, image.size)
    except (_Refused, MemoryError):
        return False
    _install(image, pixels)
    return True


def available() -> bool:
    """Whether libspng could be loaded (pyspng installed, its C API exported)."""
    return _library() is not None


def _eligible_mode(image: ImageFile.ImageFile, data: bytes) -> str | None:
    """The mode to decode ``image`` to, or ``None`` when Pillow must decode it."""
    if image.format != "PNG" or image.mode not in _SPNG_FORMATS:
        return None
    if getattr(image, "n_frames", 1) != 1 or "transparency" in image.info:
        return None
    if len(image.tile) != 1:
        return None
    tile = image.tile[0]
    if tile[0] != "zip" or tile[1] != (0, 0, *image.size) or tile[3] != image.mode:
        return None  # 16-bit RGB(A) is mode RGB(A) too, with raw mode "RGB;16B"/"RGBA;16B"
    header = _header(data)
    if header is None:
        return None
    bit_depth, colour_type, interlace, before_image_data = header
    if bit_depth != 8 or interlace != 0 or _COLOUR_TYPES.get(colour_type) != image.mode:
        return None
    if b"tRNS" in before_image_data or b"acTL" in before_image_data:
        return None
    return image.mode


def _header(data: bytes) -> tuple[int, int, int, frozenset[bytes]] | None:
    """IHDR's bit depth, colour type and interlace method, and the chunk types before
    the first IDAT; ``None`` when the file does not read that far."""
    if len(data) < 33 or data[12:16] != b"IHDR":
        return None
    bit_depth, colour_type, _compression, _filter, interlace = data[24:29]
    kinds: set[bytes] = set()
    offset = 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, offset)
        if kind == b"IDAT":
            return bit_depth, colour_type, interlace, frozenset(kinds)
        kinds.add(kind)
        offset += 12 + length
    return None


def _decode(library: Any, data: bytes, mode: str, size: tuple[int, int]) -> Image.Image:
    """The pixels of ``data`` as a new ``mode`` image; raises :class:`_Refused`."""
    import ctypes

    width, height = size
    spng_format = _SPNG_FORMATS[mode]
    expected = width * height * _BYTES_PER_PIXEL[mode]
    ctx = library.spng_ctx_new(0)
    if not ctx:
        raise _Refused("spng_ctx_new failed")
    try:
        _check(library, library.spng_set_crc_action(ctx, _SPNG_CRC_ERROR, _SPNG_CRC_USE))
        _check(library, library.spng_set_chunk_limits(ctx, len(data), MAX_CHUNK_CACHE_BYTES))
        _check(library, library.spng_set_image_limits(ctx, width, height))
        _check(library, library.spng_set_png_buffer(ctx, data, len(data)))
        out_size = ctypes.c_size_t()
        _check(library, library.spng_decoded_image_size(ctx, spng_format, ctypes.byref(out_size)))
        if out_size.value != expected:
            msg = f"expected {expected} bytes of {mode} pixels, libspng wants {out_size.value}"
            raise _Refused(msg)
        buffer = bytearray(expected)
        target = (ctypes.c_char * expected).from_buffer(buffer)
        _check(library, library.spng_decode_image(ctx, target, expected, spng_format, 0))
        del target  # release the export: the buffer is Pillow's from here on
    finally:
        library.spng_ctx_free(ctx)
    # RGBA: Pillow maps the buffer (no copy, read-only); RGB: unpacked to 4 bytes per pixel.
    return Image.frombuffer(mode, size, buffer, "raw", mode, 0, 1)


def _check(library: Any, code: int) -> None:
    if code != 0:
        raise _Refused(library.spng_strerror(code).decode("ascii", "replace"))


def _install(image: ImageFile.ImageFile, pixels: Image.Image) -> None:
    """Make ``image`` loaded with ``pixels``, as Pillow's ``ImageFile.load`` leaves it.

    The same steps as ``ImageFile.load`` minus the decoder: ``load_prepare`` (PNG:
    the first IDAT's length), the file positioned at the image data, then
    Pillow's ``load_end``, which skips the image data chunks and reads the chunks
    after them (``eXIf``, text) with Pillow's own checks and errors.
    """
    assert image.fp is not None
    offset = image.tile[0][2]
    image.im = pixels.im
    image.load_prepare()  # allocates nothing: the image memory is set
    image.fp.seek(offset)
    image.tile = []
    image.readonly = pixels.readonly
    image.load_end()
    image.fp = None


@functools.cache
def _library() -> Any | None:
    """libspng's C API from pyspng's extension module, or ``None`` (not installed, not
    loadable, or a symbol missing). Found without importing pyspng (which imports numpy)."""
    try:
        spec = importlib.util.find_spec("pyspng")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(location, "_pyspng_c" + suffix)
            if os.path.isfile(path):
                return _bind(path)
    return None


def _bind(path: str) -> Any | None:
    """Load ``path`` and declare the libspng 0.7 functions used (spng.h)."""
    import ctypes

    try:
        library = ctypes.CDLL(path)
        ctx, size_t, c_int = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int
        signatures: dict[str, tuple[Any, list[Any]]] = {
            "spng_ctx_new": (ctx, [c_int]),
            "spng_ctx_free": (None, [ctx]),
            "spng_set_crc_action": (c_int, [ctx, c_int, c_int]),
            "spng_set_chunk_limits": (c_int, [ctx, size_t, size_t]),
            "spng_set_image_limits": (c_int, [ctx, ctypes.c_uint32, ctypes.c_uint32]),
            "spng_set_png_buffer": (c_int, [ctx, ctypes.c_char_p, size_t]),
            "spng_decoded_image_size": (c_int, [ctx, c_int, ctypes.POINTER(size_t)]),
            "spng_decode_image": (c_int, [ctx, ctypes.c_void_p, size_t, c_int, c_int]),
            "spng_strerror": (ctypes.c_char_p, [c_int]),
        }
        for name, (restype, argtypes) in signatures.items():
            function = getattr(library, name)
            function.restype = restype
            function.argtypes = argtypes
    except (OSError, AttributeError):
        return None
    return library
