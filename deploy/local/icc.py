"""A Display P3 ICC profile built in code, for the demo set's wide-gamut photo.

Pillow's ``ImageCms.createProfile`` makes only sRGB, LAB and XYZ profiles, and the project
ships no binary profiles, so this writes a small ICC v4.3 display profile (ICC.1:2010)
of the matrix/TRC kind by hand (about 500 bytes):

- colorants: the DCI-P3 primaries with a D65 white (SMPTE EG 432-1), chromatically adapted
  to the D50 profile connection space with the Bradford transform (ICC.1:2010, Annex E),
  the adaptation itself recorded in ``chad``;
- tone curves: the sRGB transfer function as a parametric curve (type 3), which Display
  P3 shares (IEC 61966-2-1).

LittleCMS (``ImageCms``) reads it like Apple's own Display P3 profile: P3 grey stays grey
in sRGB, and P3's saturated red and green lie outside sRGB.
"""

from __future__ import annotations

import struct

Vector = tuple[float, float, float]
Matrix = tuple[Vector, Vector, Vector]

P3_PRIMARIES_XY = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))
"""Red, green, blue chromaticities (x, y) of Display P3 (SMPTE EG 432-1)."""
D65_XY = (0.3127, 0.3290)
D50_XYZ = (0.9642, 1.0, 0.8249)
"""The ICC profile connection space illuminant (ICC.1:2010, 7.2.16)."""
SRGB_CURVE = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)
"""Parametric curve type 3 (g, a, b, c, d): Y = (aX + b)^g for X >= d, else cX."""
BRADFORD: Matrix = (
    (0.8951, 0.2664, -0.1614),
    (-0.7502, 1.7135, 0.0367),
    (0.0389, -0.0685, 1.0296),
)
DESCRIPTION = "Display P3 (image-pipeline demo)"


def display_p3_profile() -> bytes:
    """The Display P3 profile as ICC bytes (deterministic: a fixed creation date)."""
    to_d50 = bradford(_xy_to_xyz(D65_XY), D50_XYZ)
    colorants = _transpose(_multiply(to_d50, rgb_to_xyz(P3_PRIMARIES_XY, D65_XY)))
    curve = _para(SRGB_CURVE)
    tags: list[tuple[bytes, bytes]] = [
        (b"desc", _mluc(DESCRIPTION)),
        (b"cprt", _mluc("No copyright, use freely")),
        (b"wtpt", _xyz(D50_XYZ)),
        (b"chad", _sf32([value for row in to_d50 for value in row])),
        (b"rXYZ", _xyz(colorants[0])),
        (b"gXYZ", _xyz(colorants[1])),
        (b"bXYZ", _xyz(colorants[2])),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    entries: list[bytes] = []
    body = b""
    placed: dict[bytes, int] = {}  # identical tag data is stored once (the three TRCs)
    for signature, data in tags:
        if data not in placed:
            placed[data] = offset + len(body)
            body += data + bytes(-len(data) % 4)  # tags start on 4-byte boundaries
        entries.append(struct.pack(">4sII", signature, placed[data], len(data)))
    table = struct.pack(">I", len(tags)) + b"".join(entries)
    size = 128 + len(table) + len(body)
    header = (
        struct.pack(">I4sI4s4s4s", size, b"lcms", 0x04300000, b"mntr", b"RGB ", b"XYZ ")
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + bytes(4 + 4 + 4 + 4 + 8)  # platform, flags, manufacturer, model, attributes
        + struct.pack(">I", 0)  # rendering intent: perceptual
        + b"".join(_s15(v) for v in D50_XYZ)
        + bytes(4 + 16 + 28)  # creator, profile ID (zero: not computed), reserved
    )
    assert len(header) == 128
    return header + table + body


def rgb_to_xyz(
    primaries_xy: tuple[tuple[float, float], ...], white_xy: tuple[float, float]
) -> Matrix:
    """The linear RGB -> XYZ matrix of an RGB space (rows X, Y, Z; columns R, G, B)."""
    red, green, blue = (_xy_to_xyz(xy) for xy in primaries_xy)
    unscaled = _transpose((red, green, blue))
    scale = _apply(_invert(unscaled), _xy_to_xyz(white_xy))
    return _multiply(unscaled, _diagonal(scale))


def bradford(source_white: Vector, target_white: Vector) -> Matrix:
    """The Bradford chromatic adaptation matrix from ``source_white`` to ``target_white``."""
    source_cone = _apply(BRADFORD, source_white)
    target_cone = _apply(BRADFORD, target_white)
    gain = _diagonal(
        (
            target_cone[0] / source_cone[0],
            target_cone[1] / source_cone[1],
            target_cone[2] / source_cone[2],
        )
    )
    return _multiply(_invert(BRADFORD), _multiply(gain, BRADFORD))


def _xy_to_xyz(xy: tuple[float, float]) -> Vector:
    x, y = xy
    return (x / y, 1.0, (1 - x - y) / y)


def _diagonal(v: Vector) -> Matrix:
    return ((v[0], 0.0, 0.0), (0.0, v[1], 0.0), (0.0, 0.0, v[2]))


def _transpose(m: Matrix) -> Matrix:
    return ((m[0][0], m[1][0], m[2][0]), (m[0][1], m[1][1], m[2][1]), (m[0][2], m[1][2], m[2][2]))


def _dot(a: Vector, b: Vector) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _apply(m: Matrix, v: Vector) -> Vector:
    return (_dot(m[0], v), _dot(m[1], v), _dot(m[2], v))


def _multiply(left: Matrix, right: Matrix) -> Matrix:
    columns = _transpose(right)
    return (
        _apply(columns, left[0]),
        _apply(columns, left[1]),
        _apply(columns, left[2]),
    )


def _invert(m: Matrix) -> Matrix:
    (a, b, c), (d, e, f), (g, h, i) = m
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    return (
        ((e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det),
        ((f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det),
        ((d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det),
    )


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(values: Vector) -> bytes:
    return b"XYZ " + bytes(4) + b"".join(_s15(v) for v in values)


def _sf32(values: list[float]) -> bytes:
    return b"sf32" + bytes(4) + b"".join(_s15(v) for v in values)


def _para(params: tuple[float, ...]) -> bytes:
    return b"para" + bytes(4) + struct.pack(">HH", 3, 0) + b"".join(_s15(v) for v in params)


def _mluc(text: str) -> bytes:
    encoded = text.encode("utf-16-be")
    record = struct.pack(">2s2sII", b"en", b"US", len(encoded), 28)
    return b"mluc" + bytes(4) + struct.pack(">II", 1, 12) + record + encoded
