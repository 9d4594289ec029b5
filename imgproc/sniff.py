"""Content sniffing: which allowed image format the bytes are, by magic numbers only.

The file name or extension is never consulted. Only formats on the allow-list
(:data:`ACCEPTED_FORMATS`) are recognised; everything else (SVG, PDF, EPS, PSD,
ICO, archives, text, ...) gets ``None`` and is never handed to a decoder.

Signatures follow the format specifications: JPEG SOI marker (ITU T.81),
PNG signature (RFC 2083), GIF87a/GIF89a, RIFF/WEBP (RFC 9649), TIFF and
BigTIFF byte-order headers, BMP ``BM`` plus a known DIB header size, and the
ISO-BMFF ``ftyp`` box brands of HEIF (ISO/IEC 23008-12) and AVIF.
"""

from __future__ import annotations

import struct

JPEG = "JPEG"
PNG = "PNG"
GIF = "GIF"
WEBP = "WEBP"
TIFF = "TIFF"
BMP = "BMP"
HEIF = "HEIF"
AVIF = "AVIF"

ACCEPTED_FORMATS: frozenset[str] = frozenset({JPEG, PNG, GIF, WEBP, TIFF, BMP, HEIF, AVIF})

MEDIA_TYPES: dict[str, str] = {
    JPEG: "image/jpeg",
    PNG: "image/png",
    GIF: "image/gif",
    WEBP: "image/webp",
    TIFF: "image/tiff",
    BMP: "image/bmp",
    HEIF: "image/heic",
    AVIF: "image/avif",
}
"""MIME type of each accepted format (HEIF as ``image/heic``, what phones send)."""

FILE_EXTENSIONS: dict[str, tuple[str, ...]] = {
    JPEG: ("jpg", "jpeg", "jpe"),
    PNG: ("png",),
    GIF: ("gif",),
    WEBP: ("webp",),
    TIFF: ("tif", "tiff"),
    BMP: ("bmp",),
    HEIF: ("heic", "heif"),
    AVIF: ("avif",),
}
"""File name extensions (lower case, no dot) of each accepted format, usual one first."""

IMAGE_SUFFIXES: frozenset[str] = frozenset(
    f".{ext}" for exts in FILE_EXTENSIONS.values() for ext in exts
)
"""Suffixes (``".jpg"``...) that pick image files out of a folder being walked.

Only for choosing files from a folder: the format itself is always sniffed.
"""

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_BMP_DIB_HEADER_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})
_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
)
_AVIF_BRANDS = frozenset({b"avif", b"avis"})

# Known formats we refuse, only to make the rejection message helpful.
_KNOWN_REJECTED: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "PDF"),
    (b"%!PS", "PostScript/EPS"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
    (b"8BPS", "PSD"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"\x00\x00\x02\x00", "CUR"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x1f\x8b", "gzip archive"),
    (b"Rar!", "RAR archive"),
    (b"7z\xbc\xaf", "7z archive"),
    (b"icns", "ICNS"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL ", "JPEG XL"),
    (b"qoif", "QOI"),
    (b"DDS ", "DDS"),
    (b"\x76\x2f\x31\x01", "OpenEXR"),
)


def _iso_brands(data: bytes) -> set[bytes]:
    """Major and compatible brands of a leading ISO-BMFF ``ftyp`` box (empty if none)."""
    if len(data) < 12 or data[4:8] != b"ftyp":
        return set()
    box_size = struct.unpack(">I", data[:4])[0]
    end = min(max(box_size, 16), len(data), 4096)
    brands = {data[8:12]}
    brands.update(data[i : i + 4] for i in range(16, end - 3, 4))
    return brands


def sniff_format(data: bytes) -> str | None:
    """Return the allowed format of ``data`` from its magic bytes, or ``None``.

    Args:
        data: the complete file contents.

    Returns:
        One of :data:`ACCEPTED_FORMATS` (Pillow format names), or ``None`` when
        the bytes do not start like an allowed image format.
    """
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(_PNG_SIGNATURE):
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:4] in _TIFF_SIGNATURES:
        return TIFF
    if head[:2] == b"BM" and len(head) >= 18:
        dib_size = struct.unpack("<I", head[14:18])[0]
        if dib_size in _BMP_DIB_HEADER_SIZES:
            return BMP
        return None
    brands = _iso_brands(data)
    if brands & _AVIF_BRANDS:
        return AVIF
    if brands & _HEIF_BRANDS:
        return HEIF
    return None


def describe_unknown(data: bytes) -> str:
    """A short human guess of what non-image ``data`` is, for rejection messages."""
    head = data[:64]
    for signature, name in _KNOWN_REJECTED:
        if head.startswith(signature):
            return name
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if stripped.startswith((b"<?xml", b"<svg", b"<!doctype", b"<html")):
        return "SVG/XML/HTML text"
    if _iso_brands(data):
        return "ISO media file (not HEIF/AVIF)"
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return "text"
    return "unrecognised bytes"


def container_truncated(data: bytes, fmt: str) -> bool:
    """Whether the container structure of ``data`` claims more bytes than it has.

    Used only after a decoder failed, to tell ``truncated`` from ``corrupt`` for
    formats whose decoders read the whole buffer at once (WebP's RIFF size,
    the top-level ISO-BMFF boxes of HEIF/AVIF).
    """
    if fmt == WEBP:
        if len(data) < 12:
            return True
        riff_size = struct.unpack("<I", data[4:8])[0]
        return 8 + riff_size > len(data)
    if fmt in (HEIF, AVIF):
        return _iso_boxes_truncated(data)
    return False


def _iso_boxes_truncated(data: bytes) -> bool:
    offset = 0
    n_boxes = 0
    while offset < len(data) and n_boxes < 10_000:
        if offset + 8 > len(data):
            return True
        size = struct.unpack(">I", data[offset : offset + 4])[0]
        if size == 1:
            if offset + 16 > len(data):
                return True
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        elif size == 0:
            return False
        if size < 8:
            return False
        if offset + size > len(data):
            return True
        offset += size
        n_boxes += 1
    return False
