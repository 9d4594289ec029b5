"""How many bytes decoding an opened image will need, estimated before any pixel is decoded.

The estimate is the decoded image at Pillow's bytes per pixel for its mode,
plus the buffers each decoder keeps besides it. The multipliers were measured
as peak RSS per pixel of a fresh process decoding generated inputs (Pillow 13,
pillow-heif 1.8, libwebp 1.6, libheif 1.23):

- WebP: Pillow decodes every WebP through libwebp's animation decoder, which
  holds a canvas and a disposed-canvas copy, returns a third copy as ``bytes``,
  and Pillow copies that into the image: about 16 bytes per RGBA pixel.
- HEIF: libheif's YCbCr planes and its interleaved RGB output, then Pillow's
  copy: about 7 bytes per pixel at 8 bits. Above 8 bits the planes are 16-bit
  and converted through a 16-bit intermediate: up to 20 bytes per pixel at
  10-bit 4:4:4.
- AVIF and TIFF: the decoder's own full-size buffer besides Pillow's (a whole
  strip for TIFF); tiled TIFFs also need one tile buffer of the declared tile
  size, which a hostile header can make gigabytes for a 64x64 image.
- BMP RLE: Pillow's Python RLE decoder grows a ``bytearray`` and copies it
  to ``bytes`` before the image copy: three buffers.
- Progressive JPEG: libjpeg's coefficient buffer for the whole stored image,
  2 bytes per sample whatever the draft scale.
"""

from __future__ import annotations

from PIL import ImageFile

from imgproc import sniff

# Pillow keeps 1-, 8-bit single-band images at 1 byte per pixel, I;16 at 2, all else at 4.
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
_BUFFERS = {sniff.WEBP: 4, sniff.HEIF: 2, sniff.AVIF: 2, sniff.TIFF: 2}
"""Full-size copies of the image alive at the decoder's peak, Pillow's included."""

_HEIF_PLANE_SAMPLES = {444: 3.0, 422: 2.0, 420: 1.5}
"""Samples per pixel of the YCbCr planes for a pillow-heif ``chroma`` value (monochrome: 1)."""

_TIFF_TILE_WIDTH = 322
_TIFF_TILE_LENGTH = 323
_TIFF_BITS_PER_SAMPLE = 258
_TIFF_SAMPLES_PER_PIXEL = 277


def decode_cost_bytes(image: ImageFile.ImageFile, fmt: str, stored_size: tuple[int, int]) -> int:
    """Estimate the peak bytes needed to decode ``image`` at its current (draft) size.

    Args:
        image: opened (header parsed), not yet loaded.
        fmt: the sniffed format (one of :data:`imgproc.sniff.ACCEPTED_FORMATS`).
        stored_size: (width, height) in pixels the header declared, before any
            JPEG draft scale.

    Returns:
        Estimated bytes (see the module docstring for the sources).
    """
    width, height = image.size
    pixels = width * height
    cost = pixels * _BYTES_PER_PIXEL.get(image.mode, 4) * _BUFFERS.get(fmt, 1)
    if fmt == sniff.HEIF:
        cost += _heif_high_depth_bytes(image, pixels)
    elif fmt == sniff.TIFF:
        cost += _tiff_tile_bytes(image)
    elif fmt == sniff.BMP and any(tile[0] == "bmp_rle" for tile in image.tile):
        cost *= 3
    elif fmt == sniff.JPEG and image.info.get("progressive"):
        cost += _jpeg_coefficient_bytes(image, stored_size)
    return cost


def _heif_high_depth_bytes(image: ImageFile.ImageFile, pixels: int) -> int:
    """Extra bytes for 16-bit planes and the 16-bit RGB intermediate above 8 bits per sample."""
    bit_depth = image.info.get("bit_depth")
    if not isinstance(bit_depth, int) or bit_depth <= 8:
        return 0
    chroma = image.info.get("chroma")
    samples = _HEIF_PLANE_SAMPLES.get(chroma, 3.0) if isinstance(chroma, int) else 3.0
    if image.mode in ("RGBA", "LA"):
        samples += 1
    return int(pixels * samples * 2 * 2)  # 2 bytes per sample; planes + intermediate


def _tiff_tile_bytes(image: ImageFile.ImageFile) -> int:
    """Bytes of the one-tile buffer libtiff decodes into (0 for stripped TIFFs).

    Counted at 4 bytes per pixel at least: libtiff's RGBA path (old-style
    JPEG, subsampled YCbCr) reads tiles as 32-bit RGBA.
    """
    tags = getattr(image, "tag_v2", None)
    if tags is None:
        return 0
    try:
        tile_width = tags.get(_TIFF_TILE_WIDTH)
        tile_length = tags.get(_TIFF_TILE_LENGTH)
        bits = tags.get(_TIFF_BITS_PER_SAMPLE, (8,))
        samples = tags.get(_TIFF_SAMPLES_PER_PIXEL, 1)
    except Exception:  # a tag Pillow cannot unpack: the decoder will refuse the file
        return 0
    if not isinstance(tile_width, int) or not isinstance(tile_length, int):
        return 0
    bits_per_pixel = sum(bits) if isinstance(bits, tuple) else bits
    if not isinstance(bits_per_pixel, int) or bits_per_pixel < 1:
        bits_per_pixel = 8
    if isinstance(bits, tuple) and len(bits) == 1 and isinstance(samples, int) and samples > 1:
        bits_per_pixel *= samples
    bytes_per_pixel = max(4, -(-bits_per_pixel // 8))
    return max(tile_width, 0) * max(tile_length, 0) * bytes_per_pixel


def _jpeg_coefficient_bytes(image: ImageFile.ImageFile, stored_size: tuple[int, int]) -> int:
    """libjpeg's whole-image coefficient buffer for a progressive JPEG (2 bytes per sample)."""
    layers = getattr(image, "layer", None) or []
    full_w, full_h = stored_size
    h_max = max((layer[1] for layer in layers), default=1) or 1
    v_max = max((layer[2] for layer in layers), default=1) or 1
    samples = sum(
        -(-full_w * layer[1] // h_max) * -(-full_h * layer[2] // v_max) for layer in layers
    )
    return 2 * (samples or 3 * full_w * full_h)
