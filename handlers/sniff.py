"""Cheap check of an upload before it is stored: the engine's own magic-byte sniffing.

No decoding happens here; the engine still decides when the resize function runs.
This only keeps non-images (text, PDF, zip...) out of the bucket and gives the API its
415, using the same allow-list as the engine (:mod:`imgproc.sniff`).
"""

from __future__ import annotations

from dataclasses import dataclass

from imgproc.sniff import FILE_EXTENSIONS, MEDIA_TYPES, sniff_format


@dataclass(frozen=True, slots=True)
class Sniffed:
    """A recognised format: Pillow-style name, MIME type and usual extension."""

    format: str
    content_type: str
    extension: str


EXTENSIONS: dict[str, str] = {
    **{MEDIA_TYPES[fmt]: exts[0] for fmt, exts in FILE_EXTENSIONS.items()},
    "image/heif": "heif",
}
"""Accepted image MIME types and their usual file extensions."""
CONTENT_TYPES = frozenset(EXTENSIONS)

SUFFIX_CONTENT_TYPES: dict[str, str] = {
    **{f".{ext}": MEDIA_TYPES[fmt] for fmt, exts in FILE_EXTENSIONS.items() for ext in exts},
    ".heif": "image/heif",
}
"""Accepted image MIME type of each image file suffix (``".jpg"``, lower case): what a
client labels an upload with. The table does not depend on the system's ``mimetypes``
files (some lack ``.webp`` or ``.avif``); the format is sniffed from the bytes anyway."""


def content_type_for_name(filename: str) -> str | None:
    """The accepted image MIME type for ``filename``'s suffix, any case (``"A.JPG"`` ->
    ``"image/jpeg"``), or ``None`` when the suffix is not an image one."""
    _, dot, suffix = filename.rpartition(".")
    return SUFFIX_CONTENT_TYPES.get(f".{suffix.lower()}") if dot else None


def sniff_image(data: bytes) -> Sniffed | None:
    """The accepted image format ``data`` starts with, or ``None`` when it is not one."""
    fmt = sniff_format(data)
    if fmt is None:
        return None
    return Sniffed(fmt, MEDIA_TYPES[fmt], FILE_EXTENSIONS[fmt][0])
