"""Errors raised by the image engine.

One hierarchy: :class:`ImageRejected` is permanent (the input will never
work, whatever the retry). Its ``reason`` is a short machine-readable code
from :data:`REASONS`; the same codes appear in the CLI's JSON output, the
API's errors and the metadata table.
"""

from __future__ import annotations

EMPTY = "empty"
TRUNCATED = "truncated"
CORRUPT = "corrupt"
UNSUPPORTED_FORMAT = "unsupported_format"
TOO_MANY_PIXELS = "too_many_pixels"
TOO_LARGE = "too_large"
TOO_MANY_FRAMES = "too_many_frames"

REASONS: frozenset[str] = frozenset(
    {EMPTY, TRUNCATED, CORRUPT, UNSUPPORTED_FORMAT, TOO_MANY_PIXELS, TOO_LARGE, TOO_MANY_FRAMES}
)


class ImageRejected(Exception):
    """The input is not an acceptable image; retrying will not help.

    Attributes:
        reason: one of :data:`REASONS` (for example ``"truncated"``).
        message: a short human explanation, stating expected vs actual.
    """

    def __init__(self, reason: str, message: str) -> None:
        if reason not in REASONS:
            msg = f"unknown rejection reason {reason!r}, expected one of {sorted(REASONS)}"
            raise ValueError(msg)
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
