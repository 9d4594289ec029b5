"""``pipeline_version``: which engine and which rendition settings made an item.

Every ``processed`` or ``rejected`` outcome records it; a reprocess skips an item whose
revision already has an outcome of the current version (:func:`handlers.item.refusal`),
so running a reprocess twice does no work twice, and ``reprocess --older`` selects the
items of other versions.

``{engine}-{renditions}``, e.g. ``3f9a1c2b7d10-5e0d41aa``:

- ``engine``: 12 hex digits of a SHA-256 over the engine's source (every ``imgproc/*.py``
  file, by name and bytes) and the versions of the decoders it runs (Pillow, pillow-heif).
  Any change to the engine's code gives a new version, with nothing to remember to bump.
- ``renditions``: 8 hex digits of a SHA-256 over the settings that decide what the
  renditions are: the rendition set (``RENDITIONS`` resolved at ``MAX_DIMENSION``: every
  rendition's name, size, format and options) and the acceptance limits (``MAX_PIXELS``,
  ``MAX_OBJECT_BYTES``: raising one turns some rejections into renditions).
"""

from __future__ import annotations

import functools
import hashlib
import json
from importlib import metadata
from pathlib import Path

import imgproc
from handlers.config import ResizeSettings

ENGINE_DIGITS = 12
RENDITION_DIGITS = 8


@functools.cache
def engine_version() -> str:
    """The engine's fingerprint: 12 hex digits (computed once per process)."""
    digest = hashlib.sha256()
    package = Path(imgproc.__file__).resolve().parent
    for source in sorted(package.glob("*.py")):
        digest.update(source.name.encode("utf-8") + b"\0")
        digest.update(source.read_bytes() + b"\0")
    for distribution in ("pillow", "pillow-heif"):
        digest.update(f"{distribution}={_installed(distribution)}\0".encode())
    return digest.hexdigest()[:ENGINE_DIGITS]


def rendition_digest(settings: ResizeSettings) -> str:
    """8 hex digits over the settings that decide the renditions (see the module docstring)."""
    shape = {
        "max_dim_px": settings.max_dim_px,
        "renditions": repr(settings.rendition_set()),
        "max_pixels": settings.max_pixels,
        "max_object_bytes": settings.max_object_bytes,
    }
    canonical = json.dumps(shape, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:RENDITION_DIGITS]


def pipeline_version(settings: ResizeSettings) -> str:
    """``{engine_version()}-{rendition_digest(settings)}``."""
    return f"{engine_version()}-{rendition_digest(settings)}"


def _installed(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "absent"
