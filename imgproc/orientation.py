"""EXIF orientation: read it defensively, apply it to the small image.

The tag (0x0112) is read through Pillow's ``getexif`` for every format
(JPEG APP1, TIFF IFD0, WebP and AVIF EXIF chunks, PNG ``eXIf``). Only the
integers 1..8 of the EXIF 2.3 specification are meaningful; anything else
(0, 9, text, a broken EXIF block) leaves the picture as stored.

HEIF is already upright when decoded: libheif applies the container's
``irot``/``imir`` transforms, and pillow-heif resets the EXIF tag to 1 so it
is not applied twice. AVIF via Pillow works the other way round: Pillow
moves ``irot``/``imir`` into the EXIF tag, so the tag is applied here.
"""

from __future__ import annotations

from PIL import Image

ORIENTATION_TAG = 0x0112

SWAPS_SIDES = frozenset({5, 6, 7, 8})
"""EXIF orientations whose upright picture is the stored one turned a quarter: width and
height trade places (EXIF 2.3, tag 0x0112)."""

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def read_orientation(image: Image.Image) -> int | None:
    """Return the EXIF orientation 2..8 that needs applying, or ``None``.

    ``None`` for orientation 1, a missing or invalid value, or EXIF data that
    cannot be parsed: a malformed EXIF block never fails the image.
    """
    try:
        value = image.getexif().get(ORIENTATION_TAG)
    except Exception:  # any parser failure means "no usable tag"
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if value in _TRANSPOSE else None


def apply_orientation(image: Image.Image, orientation: int | None) -> Image.Image:
    """Return ``image`` turned upright for EXIF ``orientation`` (2..8); else unchanged."""
    method = _TRANSPOSE.get(orientation) if orientation is not None else None
    return image.transpose(method) if method is not None else image


def upright_size(width: int, height: int, orientation: object) -> tuple[int, int]:
    """``(width, height)`` in pixels of a picture stored ``width`` x ``height`` once EXIF
    ``orientation`` is applied: swapped for 5-8, as stored otherwise (1-4, ``None``, or
    anything that is not an orientation). A phone portrait stored 4032x3024 with
    orientation 6 is 3024x4032 upright.

    For showing an original beside its (always upright) rendition: ``Result`` and the
    metadata item give the stored size and the ``orientation`` applied.
    """
    swapped = not isinstance(orientation, bool) and orientation in SWAPS_SIDES
    return (height, width) if swapped else (width, height)


def oriented_size(size: tuple[int, int], orientation: int | None) -> tuple[int, int]:
    """``(width, height)`` in pixels after applying ``orientation`` to ``size``."""
    return upright_size(size[0], size[1], orientation)
