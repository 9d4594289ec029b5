"""Opaque listing cursors: URL-safe base64 of the index's LastEvaluatedKey as JSON.

A cursor is validated on the way back in (exact key set, string values, the listing
constant, an image id, a parseable timestamp), so a tampered one is a 400, never a
DynamoDB error. A cursor of an owner's listing (``by_owner`` index) holds ``owner``
instead of ``listing`` and is accepted only from that owner: nobody pages through another
owner's images with a forged cursor.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from handlers.dynamo_store import LISTING
from handlers.errors import BadRequest
from handlers.events import iso_utc
from handlers.keys import is_image_id

CURSOR_KEYS = frozenset({"image_id", "listing", "uploaded_at"})
OWNER_CURSOR_KEYS = frozenset({"image_id", "owner", "uploaded_at"})
MAX_CURSOR_CHARS = 4096  # an owner may be an IAM ARN of a few hundred characters


def encode_cursor(last_key: Mapping[str, Any]) -> str:
    """The cursor for ``last_key`` (plain values): URL-safe base64 without padding."""
    raw = json.dumps(dict(last_key), separators=(",", ":"), sort_keys=True).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, *, owner: str | None = None) -> dict[str, str]:
    """The start key a cursor stands for; ``owner``: of that owner's listing.

    Raises:
        BadRequest: (code ``bad_cursor``) for anything :func:`encode_cursor` did not make.
    """
    bad = BadRequest("the cursor is not one this API returned", code="bad_cursor")
    if len(cursor) > MAX_CURSOR_CHARS:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError) as e:
        raise bad from e
    expected = CURSOR_KEYS if owner is None else OWNER_CURSOR_KEYS
    if not isinstance(value, dict) or set(value) != expected:
        raise bad
    if not all(isinstance(v, str) for v in value.values()):
        raise bad
    if value.get("listing", LISTING) != LISTING or value.get("owner", owner) != owner:
        raise bad
    if not is_image_id(value["image_id"]):
        raise bad
    if iso_utc(value["uploaded_at"]) is None:
        raise bad
    return value
