"""Structure caps: refuse files whose container would make Pillow's Python parsers crawl.

Pillow walks some structures in Python, one small step per element: PNG chunks,
JPEG marker segments (and fill bytes) before the scan, GIF blocks before the
first image, TIFF strips and tiles, BMP RLE runs; libjpeg makes a pass over the
whole image per progressive scan. A hostile 50 MB file made of
millions of empty elements would keep the process busy for many seconds while
staying tiny in pixels. These scans count the elements cheaply first and stop
at a cap far above anything a real encoder writes (libpng writes 8 KB IDAT
chunks, so 100 000 chunks is an 800 MB PNG). A structure that stops early
(a short file, a pointer past the end) is left for the decoder, which tells
``truncated`` from ``corrupt``.

Each violation raises :class:`~imgproc.errors.ImageRejected` with reason
``too_large`` (too much structure to process), before any decoder runs. Two
more rejections, reason ``corrupt``:

- a PNG critical chunk (``IHDR``, ``PLTE``, ``IDAT``, ``IEND``) whose CRC-32 is
  wrong: Pillow does not check the CRC of the image data, libpng and browsers
  refuse such a file (PNG specification, section 5.3; zlib.crc32, about 20 ms
  for a 48 MB PNG);
- a structure these scans cannot parse at all (a field no integer type can
  hold, such as a BigTIFF offset of ``0x80ffffffffffffff``): never an internal
  error.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

from imgproc import sniff
from imgproc.errors import CORRUPT, TOO_LARGE, ImageRejected

MAX_PNG_CHUNKS = 100_000
MAX_JPEG_SEGMENTS = 10_000
MAX_JPEG_SCANS = 500
"""libjpeg decodes every progressive scan over the whole image; libjpeg-turbo's
documentation suggests refusing more than 500 scans (real files have about 10)."""
MAX_GIF_BLOCKS_BEFORE_IMAGE = 50_000
MAX_TIFF_STRIPS = 100_000
MAX_TIFF_IFD_ENTRIES = 65_535
MAX_BMP_RLE_BYTES = 2_000_000
"""Pillow decodes BMP RLE in Python (about 3 us per 2-byte run); 2 MB is ~1 s."""

_TIFF_STRIP_TAGS = (273, 324)  # StripOffsets, TileOffsets
_PROGRESSIVE_SOF = frozenset({0xC2, 0xC6, 0xCA, 0xCE})


_UNPARSEABLE = (struct.error, ArithmeticError, IndexError, ValueError)
"""What a scan over hostile bytes could still raise (an offset or count no C integer
holds is an ``OverflowError``); any of them means the structure cannot be parsed."""


def check_structure(data: bytes, fmt: str) -> None:
    """Check the container structure of ``data`` (sniffed as ``fmt``) before decoding.

    Raises:
        ImageRejected: ``too_large`` when ``data`` exceeds a structure cap for ``fmt``;
            ``corrupt`` for a PNG critical chunk with a wrong CRC, or a structure the
            scans cannot parse. Nothing else escapes (tests/unit/test_structure_fuzz.py).
    """
    try:
        _check(data, fmt)
    except _UNPARSEABLE as e:
        msg = f"cannot parse the {fmt} structure: {type(e).__name__}: {e}"
        raise ImageRejected(CORRUPT, msg) from e


def _check(data: bytes, fmt: str) -> None:
    if fmt == sniff.PNG:
        _count(_png_chunks(data), MAX_PNG_CHUNKS, "PNG chunks")
    elif fmt == sniff.JPEG:
        markers: set[int] = set()
        segments = _noting(_jpeg_segments(data), markers)
        _count(segments, MAX_JPEG_SEGMENTS, "JPEG segments before SOS")
        if markers & _PROGRESSIVE_SOF:
            # SOS markers; entropy-coded data stuffs every 0xFF with 0x00, so this
            # counts scans (one pass over the bytes, ~1 ms per MB: progressive only).
            n_scans = data.count(b"\xff\xda")
            if n_scans > MAX_JPEG_SCANS:
                msg = f"expected at most {MAX_JPEG_SCANS} JPEG scans, got {n_scans}"
                raise ImageRejected(TOO_LARGE, msg)
    elif fmt == sniff.GIF:
        _count(_gif_blocks(data), MAX_GIF_BLOCKS_BEFORE_IMAGE, "GIF blocks before the first image")
    elif fmt == sniff.TIFF:
        _check_tiff(data)
    elif fmt == sniff.BMP:
        _check_bmp(data)


def _count(steps: Iterator[object], cap: int, what: str) -> None:
    for n, _ in enumerate(steps, start=1):
        if n > cap:
            msg = f"expected at most {cap} {what}, got more"
            raise ImageRejected(TOO_LARGE, msg)


def _noting(items: Iterator[int], seen: set[int]) -> Iterator[int]:
    """``items`` unchanged, each also added to ``seen`` as it passes."""
    for item in items:
        seen.add(item)
        yield item


def _png_chunks(data: bytes) -> Iterator[bytes]:
    """Chunk types up to ``IEND``; raises ``ImageRejected(corrupt)`` for a complete critical
    chunk whose CRC (over type and payload) is wrong. A chunk cut short is not checked."""
    view = memoryview(data)
    offset = 8
    while offset + 8 <= len(data):
        length = struct.unpack_from(">I", data, offset)[0]
        kind = data[offset + 4 : offset + 8]
        yield kind
        end = offset + 8 + length
        if kind[0:1].isupper() and end + 4 <= len(data):  # critical: upper-case first letter
            stored = struct.unpack_from(">I", data, end)[0]
            actual = zlib.crc32(view[offset + 4 : end])
            if stored != actual:
                name = kind.decode("latin-1")
                msg = (
                    f"expected CRC {actual:08x} for the PNG {name} chunk at byte {offset}, "
                    f"got {stored:08x}"
                )
                raise ImageRejected(CORRUPT, msg)
        if kind == b"IEND":
            return
        offset = end + 4


def _jpeg_segments(data: bytes) -> Iterator[int]:
    offset = 2
    end = len(data)
    while offset + 1 < end:
        if data[offset] != 0xFF:
            return  # not a marker: the decoder decides
        marker = data[offset + 1]
        yield marker
        if marker == 0xFF:  # fill byte
            offset += 1
        elif marker in (0x01, *range(0xD0, 0xD8)):  # standalone markers
            offset += 2
        elif marker in (0xD9, 0xDA):  # EOI, SOS: Pillow's Python parsing ends here
            return
        else:
            if offset + 4 > end:
                return
            offset += 2 + struct.unpack_from(">H", data, offset + 2)[0]


def _gif_blocks(data: bytes) -> Iterator[int]:
    if len(data) < 13:
        return
    flags = data[10]
    offset = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    while offset < len(data):
        introducer = data[offset]
        if introducer != 0x21:  # image descriptor, trailer or junk: stop
            return
        offset += 2
        yield introducer
        while offset < len(data):  # data sub-blocks
            size = data[offset]
            offset += 1 + size
            yield size
            if size == 0:
                break


def _check_tiff(data: bytes) -> None:
    if len(data) < 16:
        return
    endian = "<" if data[:2] == b"II" else ">"
    big = data[2:4] in (b"+\x00", b"\x00+")
    if big:
        ifd = struct.unpack_from(endian + "Q", data, 8)[0]
        count_fmt, entry_fmt, entry_size = endian + "Q", endian + "HHQ", 20
    else:
        ifd = struct.unpack_from(endian + "I", data, 4)[0]
        count_fmt, entry_fmt, entry_size = endian + "H", endian + "HHI", 12
    first = ifd + struct.calcsize(count_fmt)
    if first > len(data):
        return  # the first IFD lies past the end: the decoder reports the broken header
    n_entries = struct.unpack_from(count_fmt, data, ifd)[0]
    if n_entries > MAX_TIFF_IFD_ENTRIES:
        msg = f"expected at most {MAX_TIFF_IFD_ENTRIES} TIFF IFD entries, got {n_entries}"
        raise ImageRejected(TOO_LARGE, msg)
    for i in range(n_entries):
        at = first + i * entry_size
        if at + struct.calcsize(entry_fmt) > len(data):
            return  # the IFD runs past the end: the decoder decides
        tag, _type, count = struct.unpack_from(entry_fmt, data, at)
        if tag in _TIFF_STRIP_TAGS and count > MAX_TIFF_STRIPS:
            msg = f"expected at most {MAX_TIFF_STRIPS} TIFF strips or tiles, got {count}"
            raise ImageRejected(TOO_LARGE, msg)


def _check_bmp(data: bytes) -> None:
    if len(data) < 34:
        return
    header_size = struct.unpack_from("<I", data, 14)[0]
    if header_size < 40:
        return  # OS/2 headers have no compression field
    compression = struct.unpack_from("<I", data, 30)[0]
    if compression in (1, 2) and len(data) > MAX_BMP_RLE_BYTES:  # BI_RLE8, BI_RLE4
        msg = f"expected an RLE BMP of at most {MAX_BMP_RLE_BYTES} bytes, got {len(data)}"
        raise ImageRejected(TOO_LARGE, msg)
