"""Cheap magic-byte check of an upload before it is stored (no decoding).

A deliberately small allow-list of the formats the engine may accept; the engine still
decides, this only keeps obvious non-images (text, PDF, zip...) out of the bucket and
gives the API its 415. Signatures from the format specifications (JPEG SOI, PNG
signature, GIF87a/89a, RIFF WEBP, TIFF byte-order marks, BMP, ISO-BMFF ``ftyp`` brands).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sniffed:
    """A recognised format: Pillow-style name, MIME type and usual extension."""

    format: str
    content_type: str
    extension: str


_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}

EXTENSIONS: dict[str, str] = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/tiff": "tiff",
    "image/bmp": "bmp",
    "image/heic": "heic",
    "image/heif": "heif",
    "image/avif": "avif",
}
"""Accepted image MIME types and their usual file extensions."""
CONTENT_TYPES = frozenset(EXTENSIONS)


def sniff_image(data: bytes) -> Sniffed | None:
    """The image format ``data`` starts with, or ``None`` when it is not one we accept."""
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed("JPEG", "image/jpeg", "jpg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("PNG", "image/png", "png")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Sniffed("GIF", "image/gif", "gif")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("WEBP", "image/webp", "webp")
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return Sniffed("TIFF", "image/tiff", "tiff")
    if head[:2] == b"BM" and len(head) >= 14:
        return Sniffed("BMP", "image/bmp", "bmp")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _AVIF_BRANDS:
            return Sniffed("AVIF", "image/avif", "avif")
        if brand in _HEIF_BRANDS:
            return Sniffed(
                "HEIF",
                "image/heic" if brand.startswith(b"he") else "image/heif",
                "heic" if brand.startswith(b"he") else "heif",
            )
    return None
