"""Builders for generated test images (no files on disk, no copied samples).

Everything here makes bytes from ``Image.new``/drawing or writes format
structures by hand when a hostile or unusual file is needed.
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageCms, ImageDraw

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
YELLOW = (255, 255, 0)
MAGENTA = (255, 0, 255)

QUADRANTS = {"top_left": RED, "top_right": GREEN, "bottom_left": BLUE, "bottom_right": YELLOW}

# The transpose that *stores* an upright picture so that applying EXIF
# orientation N turns it upright again (the inverse of the orientation's transform).
_STORE_FOR_ORIENTATION = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def quadrants(size: tuple[int, int] = (800, 600), mode: str = "RGB") -> Image.Image:
    """An upright picture of ``size`` (width, height) with four coloured quadrants."""
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    half_w, half_h = width // 2, height // 2
    draw.rectangle((0, 0, half_w - 1, half_h - 1), fill=RED)
    draw.rectangle((half_w, 0, width - 1, half_h - 1), fill=GREEN)
    draw.rectangle((0, half_h, half_w - 1, height - 1), fill=BLUE)
    draw.rectangle((half_w, half_h, width - 1, height - 1), fill=YELLOW)
    return image.convert(mode) if mode != "RGB" else image


def stored_for_orientation(upright: Image.Image, orientation: int) -> Image.Image:
    """How a camera stores ``upright`` when it tags the file with ``orientation``."""
    method = _STORE_FOR_ORIENTATION.get(orientation)
    return upright.transpose(method) if method is not None else upright.copy()


def exif_bytes(orientation: object = None, *, gps: bool = False, text: str = "") -> bytes:
    """A TIFF-structured EXIF block (no ``Exif\\0\\0`` prefix) with the given tags."""
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if text:
        exif[0x010E] = text  # ImageDescription
        exif[0x013B] = text  # Artist
    if gps:
        gps_ifd = exif.get_ifd(0x8825)
        gps_ifd[1] = "N"
        gps_ifd[2] = (52.0, 22.0, 12.0)
        gps_ifd[3] = "E"
        gps_ifd[4] = (4.0, 53.0, 28.0)
    return exif.tobytes()


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    """``image`` saved as ``fmt`` into bytes."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def encode_heif(image: Image.Image, **options: object) -> bytes:
    """``image`` encoded as HEIC by pillow-heif (x265)."""
    import pillow_heif

    heif = pillow_heif.from_pillow(image)
    buffer = io.BytesIO()
    heif.save(buffer, quality=90, **options)
    return buffer.getvalue()


def decode(data: bytes) -> Image.Image:
    """Open output bytes and load them."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def corners(image: Image.Image, inset: int = 12) -> dict[str, tuple[int, ...]]:
    """RGB colours of the four corners, ``inset`` pixels in from the edges."""
    rgb = image.convert("RGB")
    right, bottom = rgb.width - 1 - inset, rgb.height - 1 - inset
    return {
        "top_left": rgb.getpixel((inset, inset)),
        "top_right": rgb.getpixel((right, inset)),
        "bottom_left": rgb.getpixel((inset, bottom)),
        "bottom_right": rgb.getpixel((right, bottom)),
    }


def close(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int) -> bool:
    """Every channel of ``actual`` within ``tolerance`` of ``expected``."""
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


# --- PNG by hand --------------------------------------------------------------


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk with length and CRC."""
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_raw(
    size: tuple[int, int],
    bit_depth: int,
    colour_type: int,
    rows: list[bytes],
    *,
    before_idat: bytes = b"",
    after_idat: bytes = b"",
) -> bytes:
    """A PNG with the given IHDR and unfiltered ``rows`` (filter byte added here)."""
    width, height = size
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + before_idat
        + png_chunk(b"IDAT", zlib.compress(raw))
        + after_idat
        + png_chunk(b"IEND", b"")
    )


def png_chunk_types(data: bytes) -> set[bytes]:
    """The chunk types present in PNG ``data``."""
    types, offset = set(), 8
    while offset + 8 <= len(data):
        length = struct.unpack(">I", data[offset : offset + 4])[0]
        types.add(data[offset + 4 : offset + 8])
        offset += 12 + length
    return types


def png_declaring(size: tuple[int, int]) -> bytes:
    """A tiny PNG whose IHDR declares ``size`` but whose IDAT holds almost nothing."""
    width, height = size
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


# --- GIF by hand --------------------------------------------------------------

# LZW for one pixel of colour index 0, code size 2: clear(4), 0, end(5).
_GIF_ONE_PIXEL = b"\x02\x02\x44\x01\x00"


def gif_frames(
    n_frames: int,
    *,
    screen: tuple[int, int] = (1, 1),
    frame: tuple[int, int] = (1, 1),
    palette: tuple[tuple[int, int, int], ...] = (RED, GREEN, BLUE, YELLOW),
) -> bytes:
    """A GIF89a of ``n_frames`` 1-pixel frames (index 0) on a logical ``screen``.

    ``frame`` is the size each image descriptor declares (pixels beyond the one
    encoded are missing), for lying-descriptor tests.
    """
    header = b"GIF89a" + struct.pack("<HHBBB", screen[0], screen[1], 0xF1, 0, 0)
    table = b"".join(bytes(c) for c in palette)
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    one = (
        b"\x21\xf9\x04\x00\x01\x00\x00\x00"  # graphic control: 1/100 s
        + b"\x2c"
        + struct.pack("<HHHHB", 0, 0, frame[0], frame[1], 0)
        + _GIF_ONE_PIXEL
    )
    return header + table + loop + one * n_frames + b"\x3b"


# --- JPEG by hand -------------------------------------------------------------


def jpeg_with_segment(jpeg: bytes, marker: int, payload: bytes) -> bytes:
    """Insert an APPn/COM segment (``marker`` like 0xE1) right after SOI."""
    segment = struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload
    return jpeg[:2] + segment + jpeg[2:]


def jpeg_declaring(jpeg: bytes, size: tuple[int, int]) -> bytes:
    """``jpeg`` with its SOF0 frame header patched to declare ``size`` (width, height)."""
    at = jpeg.index(b"\xff\xc0")
    width, height = size
    return jpeg[: at + 5] + struct.pack(">HH", height, width) + jpeg[at + 9 :]


# --- TIFF by hand -------------------------------------------------------------


def tiff_with_ifd_loop(image: Image.Image) -> bytes:
    """An uncompressed little-endian TIFF whose first IFD names itself as the next IFD."""
    data = bytearray(encode(image, "TIFF"))
    assert data[:2] == b"II"
    ifd0 = struct.unpack("<I", data[4:8])[0]
    n_entries = struct.unpack("<H", data[ifd0 : ifd0 + 2])[0]
    next_at = ifd0 + 2 + 12 * n_entries
    data[next_at : next_at + 4] = struct.pack("<I", ifd0)
    return bytes(data)


# --- ICC ----------------------------------------------------------------------


def swapped_primaries_icc() -> bytes:
    """An sRGB profile whose red and green colorants are swapped.

    A pixel (255, 0, 0) tagged with it *means* sRGB green, and (0, 255, 0) means red.
    """
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    n_tags = struct.unpack(">I", profile[128:132])[0]
    entries = {}
    for i in range(n_tags):
        at = 132 + 12 * i
        entries[bytes(profile[at : at + 4])] = at
    red, green = entries[b"rXYZ"], entries[b"gXYZ"]
    red_ref, green_ref = profile[red + 4 : red + 12], profile[green + 4 : green + 12]
    profile[red + 4 : red + 12], profile[green + 4 : green + 12] = green_ref, red_ref
    profile[84:100] = bytes(16)  # profile ID (MD5) no longer valid: zero means "not computed"
    return bytes(profile)
