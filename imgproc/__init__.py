"""The image engine: bytes in, one resized rendition and its facts out.

Pure core: Pillow (and pillow-heif) and the standard library only, no AWS,
no environment, no I/O beyond the bytes it is given.
"""

from __future__ import annotations

from imgproc.engine import (
    DEFAULT_MAX_DECODE_BYTES,
    DEFAULT_MAX_DIM_PX,
    DEFAULT_MAX_PIXELS,
    process,
)
from imgproc.errors import REASONS, ImageRejected
from imgproc.result import Result
from imgproc.sniff import ACCEPTED_FORMATS, sniff_format

__all__ = [
    "ACCEPTED_FORMATS",
    "DEFAULT_MAX_DECODE_BYTES",
    "DEFAULT_MAX_DIM_PX",
    "DEFAULT_MAX_PIXELS",
    "REASONS",
    "ImageRejected",
    "Result",
    "process",
    "sniff_format",
]
