"""The image engine: bytes in, resized renditions and their facts out.

Pure core: Pillow (and pillow-heif) and the standard library only (the BlurHash
encoder is :mod:`imgproc.placeholders`' own); no AWS, no environment, no I/O beyond the
bytes it is given.

- :func:`process`: one rendition (the pipeline's default), a :class:`Result`.
- :func:`process_set`: a :class:`RenditionSet` (named sizes and formats, see
  :mod:`imgproc.renditions`) from one decode, a :class:`SetResult` with
  placeholders.
"""

from __future__ import annotations

from imgproc.engine import (
    DEFAULT_MAX_DECODE_BYTES,
    DEFAULT_MAX_DIM_PX,
    DEFAULT_MAX_PIXELS,
    process,
)
from imgproc.errors import REASONS, ImageRejected
from imgproc.rendition_engine import process_set
from imgproc.renditions import (
    PRESETS,
    Rendition,
    RenditionSet,
    SpecError,
    parse_renditions,
    preset,
)
from imgproc.result import Collapsed, RenditionResult, Result, SetResult
from imgproc.sniff import ACCEPTED_FORMATS, sniff_format

__all__ = [
    "ACCEPTED_FORMATS",
    "DEFAULT_MAX_DECODE_BYTES",
    "DEFAULT_MAX_DIM_PX",
    "DEFAULT_MAX_PIXELS",
    "PRESETS",
    "REASONS",
    "Collapsed",
    "ImageRejected",
    "Rendition",
    "RenditionResult",
    "RenditionSet",
    "Result",
    "SetResult",
    "SpecError",
    "parse_renditions",
    "preset",
    "process",
    "process_set",
    "sniff_format",
]
