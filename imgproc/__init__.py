"""The image engine: bytes in, one resized rendition and its facts out.

Pure core: Pillow and the standard library only, no AWS, no environment,
no I/O beyond the bytes it is given.
"""

from __future__ import annotations

from imgproc.engine import DEFAULT_MAX_DIM_PX, DEFAULT_MAX_PIXELS, process
from imgproc.errors import REASONS, ImageRejected
from imgproc.result import Result

__all__ = [
    "DEFAULT_MAX_DIM_PX",
    "DEFAULT_MAX_PIXELS",
    "REASONS",
    "ImageRejected",
    "Result",
    "process",
]
