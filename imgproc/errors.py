"""Errors raised by the image engine.

One hierarchy: :class:`ImageRejected` is permanent (the input will never
work, whatever the retry). Its ``reason`` is a short machine-readable code
from :data:`REASONS`; the same codes appear in the CLI's JSON output, the
API's errors and the metadata table. Its ``facts`` carry what the engine had
already learnt about the input when it gave up (see :data:`FACT_KEYS`).
"""

from __future__ import annotations

from collections.abc import Mapping

EMPTY = "empty"
TRUNCATED = "truncated"
CORRUPT = "corrupt"
UNSUPPORTED_FORMAT = "unsupported_format"
TOO_MANY_PIXELS = "too_many_pixels"
TOO_LARGE = "too_large"
# Never raised: animated and multi-page inputs give their first frame. Kept only because
# tests/unit/test_rejection_facts.py builds an ImageRejected with it; drop both together.

REASONS: frozenset[str] = frozenset(
    {EMPTY, TRUNCATED, CORRUPT, UNSUPPORTED_FORMAT, TOO_MANY_PIXELS, TOO_LARGE}
)

FACT_KEYS: tuple[str, ...] = (
    "original_format",
    "original_width",
    "original_height",
    "original_mode",
)
"""Keys :attr:`ImageRejected.facts` may hold, named as in :class:`imgproc.Result`:
``original_format`` (str, the sniffed format, once sniffing succeeded);
``original_width``, ``original_height`` (int, pixels as stored, before EXIF
orientation) and ``original_mode`` (str, Pillow mode), once the header was parsed."""


class ImageRejected(Exception):
    """The input is not an acceptable image; retrying will not help.

    ``ImageRejected(reason, message, *, facts=None)``.

    Attributes:
        reason: one of :data:`REASONS` (for example ``"truncated"``).
        message: a short human explanation, stating expected vs actual.
        facts: what was known about the input when it was rejected, a dict with
            keys among :data:`FACT_KEYS` (empty when nothing was known, for
            example for an empty or unrecognised file). A 20000x20000 PNG
            rejected as ``too_many_pixels`` carries ``{"original_format": "PNG",
            "original_width": 20000, "original_height": 20000, "original_mode": "RGB"}``.
            :func:`imgproc.process` fills it; callers may add missing keys.

    Raises:
        ValueError: ``reason`` is not in :data:`REASONS`, or ``facts`` has a key
            outside :data:`FACT_KEYS` (a caller bug).
    """

    def __init__(
        self, reason: str, message: str, *, facts: Mapping[str, object] | None = None
    ) -> None:
        if reason not in REASONS:
            msg = f"unknown rejection reason {reason!r}, expected one of {sorted(REASONS)}"
            raise ValueError(msg)
        unknown = sorted(set(facts or {}) - set(FACT_KEYS))
        if unknown:
            msg = f"unknown rejection facts {unknown}, expected keys among {list(FACT_KEYS)}"
            raise ValueError(msg)
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
        self.facts: dict[str, object] = dict(facts or {})

    def add_facts(self, facts: Mapping[str, object]) -> None:
        """Add the keys of ``facts`` that are not set yet (known facts are kept)."""
        for key, value in facts.items():
            if key not in FACT_KEYS:
                msg = f"unknown rejection fact {key!r}, expected one of {list(FACT_KEYS)}"
                raise ValueError(msg)
            self.facts.setdefault(key, value)

    def __reduce__(self) -> tuple[object, ...]:
        # Exception pickles as cls(*self.args); ours takes (reason, message) and facts.
        return (_rebuild, (type(self), self.reason, self.message, self.facts))


def _rebuild(
    cls: type[ImageRejected], reason: str, message: str, facts: dict[str, object]
) -> ImageRejected:
    return cls(reason, message, facts=facts)
