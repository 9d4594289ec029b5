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


@dataclass(frozen=True, slots=True)
class RenditionResult:
    """One encoded rendition of a set.

    Attributes:
        name: the rendition's name (``default``, ``w640``...).
        requested_format: the format the rendition asked for (``auto``, ``jpeg``,
            ``png``, ``webp``, ``avif``).
        data: the encoded bytes.
        format: Pillow format name of ``data``: ``"JPEG"``, ``"PNG"``, ``"WEBP"``, ``"AVIF"``.
        content_type: MIME type of ``data`` (``"image/avif"``...).
        extension: file extension without the dot (``"jpg"``, ``"png"``, ``"webp"``, ``"avif"``).
        width, height: size in pixels, upright.
        has_alpha: ``data`` keeps an alpha channel.
    """

    name: str
    requested_format: str
    data: bytes
    format: str
    content_type: str
    extension: str
    width: int
    height: int
    has_alpha: bool

    @property
    def file_name(self) -> str:
        """``<name>.<extension>``: the rendition's name under its source (key or folder)."""
        return f"{self.name}.{self.extension}"

    @property
    def size_bytes(self) -> int:
        """Length of the encoded output in bytes."""
        return len(self.data)

    def facts(self) -> dict[str, object]:
        """Everything but the bytes, as a JSON-ready dict (``bytes`` is the length)."""
        return {
            "name": self.name,
            "format": self.format,
            "content_type": self.content_type,
            "width": self.width,
            "height": self.height,
            "bytes": self.size_bytes,
            "has_alpha": self.has_alpha,
        }


@dataclass(frozen=True, slots=True)
class Collapsed:
    """A rendition not made because an earlier one has the same pixels and encoding.

    Sizes above the original collapse: of a 600 px original, ``w640`` and ``w1280``
    would both be 600 px, so ``w1280.avif`` is collapsed into ``w640.avif``.

    Attributes:
        name, requested_format: the rendition that was not made.
        same_as: ``file_name`` of the made rendition with the same bytes.
    """

    name: str
    requested_format: str
    same_as: str

    def facts(self) -> dict[str, object]:
        """JSON-ready dict."""
        return {"name": self.name, "format": self.requested_format, "same_as": self.same_as}


@dataclass(frozen=True, slots=True)
class SetResult:
    """The renditions of one upload, their placeholders, and facts about the original.

    Attributes:
        renditions: the renditions made, in the set's order; the first is the
            primary (the set's first rendition, never collapsed).
        collapsed: renditions not made because an earlier one is identical.
        original_width, original_height: stored size (before EXIF orientation).
        upright_width, upright_height: the original's size once upright.
        original_format, original_mode: sniffed format, header's Pillow mode.
        original_size_bytes: length of the input.
        sha256: SHA-256 of the input bytes, 64 lowercase hex digits.
        orientation: the EXIF orientation (2-8) that was applied, or ``None``.
        icc_converted: an embedded ICC profile was converted to sRGB.
        animated: the input has more frames than the first; every rendition is a
            still of the first frame (see :mod:`imgproc.frames`).
        dominant_color: ``#rrggbb`` (see :mod:`imgproc.placeholders`).
        blurhash: BlurHash string of the smallest rendition (ditto).
    """

    renditions: tuple[RenditionResult, ...]
    collapsed: tuple[Collapsed, ...]
    original_width: int
    original_height: int
    upright_width: int
    upright_height: int
    original_format: str
    original_mode: str
    original_size_bytes: int
    sha256: str
    orientation: int | None
    icc_converted: bool
    animated: bool
    dominant_color: str
    blurhash: str

    @property
    def primary(self) -> RenditionResult:
        """The set's first rendition."""
        return self.renditions[0]

    def primary_result(self) -> Result:
        """The primary rendition as a :class:`Result`: the single-output view.

        For the ``default`` preset it equals what :func:`imgproc.process` returns
        (same bytes, same facts).
        """
        primary = self.primary
        return Result(
            data=primary.data,
            format=primary.format,
            content_type=primary.content_type,
            extension=primary.extension,
            width=primary.width,
            height=primary.height,
            original_width=self.original_width,
            original_height=self.original_height,
            original_format=self.original_format,
            original_mode=self.original_mode,
            has_alpha=primary.has_alpha,
            orientation=self.orientation,
            icc_converted=self.icc_converted,
        )

    def facts(self) -> dict[str, object]:
        """The set's own facts (not the primary's), JSON-ready: placeholders, hash,
        ``upright_width``/``upright_height``, ``animated``, ``renditions`` and
        ``collapsed`` (lists of dicts)."""
        return {
            "upright_width": self.upright_width,
            "upright_height": self.upright_height,
            "sha256": self.sha256,
            "animated": self.animated,
            "dominant_color": self.dominant_color,
            "blurhash": self.blurhash,
            "renditions": [r.facts() for r in self.renditions],
            "collapsed": [c.facts() for c in self.collapsed],
        }
