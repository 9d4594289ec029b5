"""Whether an input is animated: more frames than the first, which is all the engine uses.

Read from what the header parse already found, never by seeking through frames:

- APNG, animated WebP and AVIF image sequences: Pillow reads the frame count with
  the header (``acTL``, the WebP animation header, the AVIF track) and sets
  ``is_animated`` at open.
- GIF: Pillow's ``is_animated`` seeks to the second frame, walking the first
  frame's data in Python; a bounded byte scan here looks for a second image
  descriptor instead (at most :data:`MAX_GIF_STEPS` blocks, then "not animated").

JPEG (MPO pairs and gain maps), TIFF pages and HEIF collections hold several
images, but none of them is an animation: they report ``False``.
"""

from __future__ import annotations

from PIL import Image

from imgproc import sniff

MAX_GIF_STEPS = 500_000
"""Blocks and sub-blocks scanned for a second GIF frame (a 100 MB first frame is
400,000 full sub-blocks); beyond it the answer is ``False``."""

_ANIMATING_FORMATS = frozenset({sniff.PNG, sniff.WEBP, sniff.AVIF})


def is_animated(image: Image.Image, data: bytes, fmt: str) -> bool:
    """Whether the opened (header-parsed) ``image`` of format ``fmt`` has more than one frame."""
    if fmt == sniff.GIF:
        return gif_frame_count(data, stop_at=2) >= 2
    if fmt in _ANIMATING_FORMATS:
        return bool(image.__dict__.get("is_animated", False))
    return False


def gif_frame_count(data: bytes, *, stop_at: int) -> int:
    """Image descriptors in a GIF, counting up to ``stop_at`` (0 for a GIF too short to tell).

    Follows the block structure (extensions, image descriptors with their colour
    tables and data sub-blocks) and stops at the trailer, at anything it cannot
    follow, or after :data:`MAX_GIF_STEPS` blocks.
    """
    if len(data) < 13:
        return 0
    flags = data[10]
    offset = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    frames = steps = 0
    end = len(data)
    while offset < end and frames < stop_at and steps < MAX_GIF_STEPS:
        introducer = data[offset]
        if introducer == 0x21:  # extension: label, then sub-blocks
            offset += 2
        elif introducer == 0x2C:  # image descriptor: 9 bytes, local table, LZW code size
            if offset + 10 > end:
                break
            frames += 1
            local = data[offset + 9]
            offset += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0) + 1
        else:  # trailer or junk
            break
        while offset < end and steps < MAX_GIF_STEPS:  # data sub-blocks up to the terminator
            steps += 1
            size = data[offset]
            offset += 1 + size
            if size == 0:
                break
    return frames
