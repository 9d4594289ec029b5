"""The value the engine returns for an accepted image."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Result:
    """One encoded rendition and the facts about it.

    Attributes:
        data: the encoded output bytes (never the input bytes passed through).
        format: Pillow format name of the output: ``"JPEG"``, ``"PNG"`` or ``"WEBP"``.
        content_type: MIME type of ``data``, for example ``"image/jpeg"``.
        extension: file extension for ``format`` without the dot (``"jpg"``, ``"png"``).
        width, height: output size in pixels, upright (EXIF orientation applied).
        original_width, original_height: size of the input in pixels as stored in
            the file, *before* EXIF orientation is applied: a phone portrait stored
            as 4032x3024 with ``orientation`` 6 reports ``original_width`` 4032 and
            ``original_height`` 3024, and its output is 375x500 (``width`` 375,
            ``height`` 500). For ``orientation`` 5-8 the upright input is
            ``original_height`` x ``original_width``.
        original_format: sniffed input format (``"JPEG"``, ``"HEIF"``, ...).
        original_mode: Pillow mode of the input (``"RGB"``, ``"CMYK"``, ``"I;16"``, ...).
        has_alpha: the output keeps an alpha channel.
        orientation: the EXIF orientation (2-8) that was applied, or ``None``.
        icc_converted: an embedded ICC profile was converted to sRGB.
    """

    data: bytes
    format: str
    content_type: str
    extension: str
    width: int
    height: int
    original_width: int
    original_height: int
    original_format: str
    original_mode: str
    has_alpha: bool
    orientation: int | None
    icc_converted: bool

    @property
    def size_bytes(self) -> int:
        """Length of the encoded output in bytes."""
        return len(self.data)

    def facts(self) -> dict[str, object]:
        """Everything but the bytes, as a JSON-ready dict."""
        return {
            "format": self.format,
            "content_type": self.content_type,
            "width": self.width,
            "height": self.height,
            "size_bytes": self.size_bytes,
            "original_width": self.original_width,
            "original_height": self.original_height,
            "original_format": self.original_format,
            "original_mode": self.original_mode,
            "has_alpha": self.has_alpha,
            "orientation": self.orientation,
            "icc_converted": self.icc_converted,
        }
