"""The value the engine returns for an accepted image."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class Result:
    """One encoded rendition and the facts about it.

    Attributes:
        data: the encoded output bytes (never the input bytes passed through).
        format: Pillow format name of the output: ``"JPEG"`` or ``"PNG"``.
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
        """Every field but ``data`` and ``extension`` (which ``format`` implies), then
        ``size_bytes``: a JSON-ready dict, in field order."""
        facts: dict[str, object] = {name: getattr(self, name) for name in FACT_FIELDS}
        facts["size_bytes"] = self.size_bytes
        return facts


FACT_FIELDS: tuple[str, ...] = tuple(
    f.name for f in fields(Result) if f.name not in ("data", "extension")
)
"""The :class:`Result` fields :meth:`Result.facts` reports (besides ``size_bytes``)."""
