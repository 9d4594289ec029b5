"""Rendition sets: which sizes and formats to make from one upload (a pure description).

A *rendition* is a name, a longest side in pixels (never upscaled), an output format
and optional encoder settings. A *rendition set* is an ordered list of them; the
first is the *primary* rendition: the one a single-output caller keeps describing
(the CLI's ``OUTDIR/<stem>.<ext>``, the pipeline's default key and item fields).

Spec string (settings, ``imgproc resize --renditions``)
    Comma-separated items; spaces around items are ignored::

        ITEM    = [NAME ":"] SIZE [":" FORMAT] (":" OPTION)*
        NAME    = a lower-case letter, then up to 31 of a-z 0-9 _ -   (default "w<SIZE>")
        SIZE    = longest side in pixels, 1..16383
        FORMAT  = auto | jpeg | jpg | png | webp | avif              (default auto)
        OPTION  = q=N | quality=N          JPEG and auto 0-95, WebP and AVIF 0-100
                | speed=N                  AVIF only, 0-10 (higher is faster)
                | method=N                 WebP only, 0-6 (higher is slower, smaller)
                | compress_level=N         PNG (and auto's PNG side), zlib 0-9

    For example ``thumb:320:webp:q=70, 640:avif, 640:auto`` is three renditions:
    ``thumb`` (WebP), and ``w640`` twice (AVIF, and JPEG-or-PNG). The option names
    are Pillow's own save parameters. A spec may instead be a preset name.

    ``auto`` is the rule a single rendition always followed: JPEG when the resized
    picture is opaque, PNG when transparency remains. ``jpeg`` on a picture with
    alpha composites it over white; ``webp``, ``avif`` and ``png`` keep alpha.

Names
    A name is a size slot: every rendition of one name has one size, its formats
    differ (``w640.avif``, ``w640.webp``, ``w640.jpg``), so a CDN can pick a format
    for a name from the ``Accept`` header. Within a name, no format twice, and
    ``auto`` never beside ``jpeg`` or ``png`` (both could end in the same file).

Presets (:data:`PRESETS`; ``max_dim_px`` is the primary's size, 500 by default)
    ``default``
        ``default:500:auto``: exactly the single rendition of
        :func:`imgproc.process` (same bytes).
    ``web``
        the ``default`` rendition first (so the single-output fields and keys stay
        what they were), then ``w320`` and ``w<max_dim_px>`` (``w500``), each as AVIF,
        WebP and auto (JPEG or PNG); ``w500``'s auto is the default rendition itself
        (collapsed, not written twice). What ``<picture>`` with ``srcset`` serves for
        pictures shown at up to 500 CSS px, and cheap: every size comes from the same
        small decode (JPEG DCT scaling) as the default, so it costs about 1.9x the
        default rendition on the benchmark's 12 MP JPEG (``benchmarks/rendition_sets.py``;
        2.3-2.7x on real 8 MP phone photos, whose decode is cheaper).
    ``web-large``
        the ``default`` rendition, then ``w320``, ``w640`` and ``w1280``, each as AVIF,
        WebP and auto: for full-width and high-density screens. The 1280 px decode and
        the large AVIF and WebP encodes make it about 9x the default rendition's CPU and
        about twice its peak memory (README, "Renditions").

Sizes above the original are made once: the engine drops a rendition whose pixel
size, format and encoder settings equal an earlier one's (see
:func:`imgproc.process_set`), so a 700 px original gets ``w1280`` at 700 px and no
second copy of it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

AUTO, JPEG, PNG, WEBP, AVIF = "auto", "jpeg", "png", "webp", "avif"
FORMATS = (AUTO, JPEG, PNG, WEBP, AVIF)
"""Requested formats, as spelled in a spec (``jpg`` is accepted for ``jpeg``)."""

MAX_SIZE_PX = 16_383
"""Largest longest side a rendition may ask for (WebP's limit; JPEG's is 65,500)."""

MAX_RENDITIONS = 32
"""Most renditions in one set: each costs a resize and an encode per upload."""

PRIMARY_NAME = "default"
WEB_SMALL_PX = 320
WEB_LARGE_SIZES_PX = (320, 640, 1280)
WEB_FORMATS = (AVIF, WEBP, AUTO)

_DIGITS_RE = re.compile(r"[0-9]{1,9}")
_NAME_RE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_FORMAT_ALIASES = {"jpg": JPEG}
_OPTION_ALIASES = {"q": "quality"}
# option -> (formats it applies to, lowest, highest)
_OPTIONS: dict[str, tuple[frozenset[str], int, int]] = {
    "quality": (frozenset({AUTO, JPEG, WEBP, AVIF}), 0, 100),
    "speed": (frozenset({AVIF}), 0, 10),
    "method": (frozenset({WEBP}), 0, 6),
    "compress_level": (frozenset({AUTO, PNG}), 0, 9),
}
_JPEG_MAX_QUALITY = 95  # libjpeg above 95 grows files for no visible gain (Pillow's advice)


class SpecError(ValueError):
    """A rendition spec or set that cannot be used; the message names the item and the rule."""


@dataclass(frozen=True, slots=True)
class Rendition:
    """One output to make: a name, a longest side, a format and encoder settings.

    Attributes:
        name: lower-case file-name-safe slot name (``default``, ``w640``, ``thumb``).
        max_dim_px: longest side of the output in pixels; smaller originals keep
            their size (never upscaled).
        format: one of :data:`FORMATS`.
        quality: encoder quality, ``None`` for the format's default (JPEG 0-95,
            WebP/AVIF 0-100; for ``auto`` it applies to the JPEG side).
        speed: AVIF encoder speed 0-10, ``None`` for the default.
        method: WebP encoder method 0-6, ``None`` for the default.
        compress_level: PNG zlib level 0-9 (``png`` and ``auto``'s PNG side).

    Raises:
        SpecError: a field is out of range or an option does not apply to the format.
    """

    name: str
    max_dim_px: int
    format: str = AUTO
    quality: int | None = None
    speed: int | None = None
    method: int | None = None
    compress_level: int | None = None

    def __post_init__(self) -> None:
        if not _NAME_RE.fullmatch(self.name):
            msg = (
                f"rendition name {self.name!r}: expected a lower-case letter then up to 31 "
                "of a-z 0-9 _ -"
            )
            raise SpecError(msg)
        if isinstance(self.max_dim_px, bool) or not 1 <= self.max_dim_px <= MAX_SIZE_PX:
            msg = (
                f"rendition {self.name}: expected a size of 1..{MAX_SIZE_PX} px, "
                f"got {self.max_dim_px}"
            )
            raise SpecError(msg)
        if self.format not in FORMATS:
            msg = (
                f"rendition {self.name}: expected a format in {', '.join(FORMATS)}, "
                f"got {self.format!r}"
            )
            raise SpecError(msg)
        for option, value in self.options().items():
            formats, low, high = _OPTIONS[option]
            if option == "quality" and self.format in (JPEG, AUTO):
                high = _JPEG_MAX_QUALITY
            if self.format not in formats:
                msg = f"rendition {self.name}: {option} does not apply to {self.format}"
                raise SpecError(msg)
            if isinstance(value, bool) or not low <= value <= high:
                msg = f"rendition {self.name}: expected {option} {low}..{high}, got {value}"
                raise SpecError(msg)

    def options(self) -> dict[str, int]:
        """The encoder settings given (not ``None``), by Pillow's parameter name."""
        values = {
            "quality": self.quality,
            "speed": self.speed,
            "method": self.method,
            "compress_level": self.compress_level,
        }
        return {k: v for k, v in values.items() if v is not None}

    def spec(self) -> str:
        """This rendition as a spec item (``name:size:format[:option=value]...``)."""
        parts = [self.name, str(self.max_dim_px), self.format]
        parts += [f"{k}={v}" for k, v in self.options().items()]
        return ":".join(parts)


@dataclass(frozen=True, slots=True)
class RenditionSet:
    """An ordered, validated tuple of renditions; the first is the primary.

    Build one with :func:`parse_renditions`, :func:`preset`, or directly.

    Raises:
        SpecError: empty, more than :data:`MAX_RENDITIONS`, a name with two sizes,
            a (name, format) pair twice, or ``auto`` beside ``jpeg``/``png`` in a name.
    """

    renditions: tuple[Rendition, ...]

    def __post_init__(self) -> None:
        if not self.renditions:
            raise SpecError("a rendition set needs at least one rendition")
        if len(self.renditions) > MAX_RENDITIONS:
            msg = f"expected at most {MAX_RENDITIONS} renditions, got {len(self.renditions)}"
            raise SpecError(msg)
        sizes: dict[str, int] = {}
        formats: dict[str, set[str]] = {}
        for r in self.renditions:
            if sizes.setdefault(r.name, r.max_dim_px) != r.max_dim_px:
                msg = (
                    f"rendition {r.name}: one name, one size; got {sizes[r.name]} and "
                    f"{r.max_dim_px} px"
                )
                raise SpecError(msg)
            seen = formats.setdefault(r.name, set())
            if r.format in seen:
                msg = f"rendition {r.name}: {r.format} given twice"
                raise SpecError(msg)
            if (r.format == AUTO and seen & {JPEG, PNG}) or (
                r.format in (JPEG, PNG) and AUTO in seen
            ):
                msg = (
                    f"rendition {r.name}: auto (JPEG or PNG) beside jpeg or png could write "
                    "one file twice; give them different names"
                )
                raise SpecError(msg)
            seen.add(r.format)

    def __iter__(self) -> Iterator[Rendition]:
        return iter(self.renditions)

    def __len__(self) -> int:
        return len(self.renditions)

    @property
    def primary(self) -> Rendition:
        """The first rendition: the one single-output fields and names describe."""
        return self.renditions[0]

    @property
    def largest_dim_px(self) -> int:
        """The largest ``max_dim_px`` of the set: the size the engine decodes for."""
        return max(r.max_dim_px for r in self.renditions)

    def spec(self) -> str:
        """The set as a spec string that :func:`parse_renditions` reads back to an equal set."""
        return ", ".join(r.spec() for r in self.renditions)


def _default(max_dim_px: int) -> list[Rendition]:
    return [Rendition(PRIMARY_NAME, max_dim_px, AUTO)]


def _widths(sizes: list[int]) -> list[Rendition]:
    return [Rendition(f"w{size}", size, fmt) for size in sizes for fmt in WEB_FORMATS]


def _web(max_dim_px: int) -> list[Rendition]:
    sizes = sorted({min(WEB_SMALL_PX, max_dim_px), max_dim_px})
    return _default(max_dim_px) + _widths(sizes)


def _web_large(max_dim_px: int) -> list[Rendition]:
    return _default(max_dim_px) + _widths(list(WEB_LARGE_SIZES_PX))


PRESETS: dict[str, Callable[[int], list[Rendition]]] = {
    "default": _default,
    "web": _web,
    "web-large": _web_large,
}
"""Preset name -> the renditions it makes for a primary size (see the module docstring)."""

DEFAULT_PRESET = "default"


def preset(name: str, *, max_dim_px: int = 500) -> RenditionSet:
    """The rendition set of preset ``name``, its primary at ``max_dim_px``.

    Raises:
        SpecError: unknown preset name, or ``max_dim_px`` out of range.
    """
    make = PRESETS.get(name)
    if make is None:
        msg = f"unknown preset {name!r}: expected one of {', '.join(PRESETS)}"
        raise SpecError(msg)
    return RenditionSet(tuple(make(max_dim_px)))


def parse_renditions(text: str, *, max_dim_px: int = 500) -> RenditionSet:
    """Parse a spec string (module docstring) or a preset name into a set.

    Args:
        text: ``"web"``, or items such as ``"default:500, thumb:320:webp:q=70"``.
        max_dim_px: the primary's size when ``text`` names a preset.

    Raises:
        SpecError: with the offending item quoted.
    """
    text = text.strip()
    if text in PRESETS:
        return preset(text, max_dim_px=max_dim_px)
    if text[:1].isalpha() and not any(c in text for c in ":,0123456789"):  # a word: a preset
        msg = (
            f"unknown preset {text!r}: expected one of {', '.join(PRESETS)}, or rendition "
            "items [NAME:]SIZE[:FORMAT][:OPTION=N], e.g. 'thumb:200:webp'"
        )
        raise SpecError(msg)
    items = [item.strip() for item in text.split(",")]
    if not any(items):
        raise SpecError(
            f"expected a preset ({', '.join(PRESETS)}) or rendition items, got {text!r}"
        )
    return RenditionSet(tuple(_parse_item(item) for item in items))


def _parse_item(item: str) -> Rendition:
    if not item:
        raise SpecError("empty rendition item (two commas in a row, or a trailing comma)")
    fields = [f.strip() for f in item.split(":")]
    name = None
    if fields[0][:1].isalpha():
        name = fields.pop(0)
    if not fields or not _DIGITS_RE.fullmatch(fields[0]):
        msg = f"rendition {item!r}: expected [NAME:]SIZE[:FORMAT][:OPTION=N]..., SIZE in pixels"
        raise SpecError(msg)
    size = int(fields.pop(0))
    fmt = AUTO
    if fields and "=" not in fields[0]:
        fmt = fields.pop(0).lower()
        fmt = _FORMAT_ALIASES.get(fmt, fmt)
    options = dict(_parse_option(item, f) for f in fields)
    try:
        return Rendition(name or f"w{size}", size, fmt, **options)
    except SpecError as e:
        raise SpecError(f"{e} (in {item!r})") from None


def _parse_option(item: str, text: str) -> tuple[str, int]:
    key, sep, value = text.partition("=")
    key = _OPTION_ALIASES.get(key.strip(), key.strip())
    if not sep or key not in _OPTIONS or not _DIGITS_RE.fullmatch(value.strip()):
        msg = f"rendition {item!r}: option {text!r}: expected one of q=N, {'=N, '.join(_OPTIONS)}=N"
        raise SpecError(msg)
    return key, int(value)
