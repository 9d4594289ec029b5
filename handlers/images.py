"""The API's read use cases: one image's status, and the newest-first listing.

Items are shown without internals (``listing``, ``source_revision``, ``expires_at``), with
``status_url``, and once processed a time-limited ``download_url`` of the default
rendition. One image's view also gives each entry of ``renditions`` its own time-limited
``url``; a listing page leaves those out (a presigned URL costs about 0.4 ms of CPU, and a
page of 100 images of the ``web`` preset would sign 1,000 of them).
Pending uploads past their ``expires_at`` (TTL deletes them within days) are treated as
gone: 404 for one image, left out of a listing page.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from handlers.bootstrap import Deps
from handlers.config import ApiSettings
from handlers.cursor import decode_cursor, encode_cursor
from handlers.errors import NotFound
from handlers.item import REVISION, TTL_ATTRIBUTE
from handlers.keys import is_image_id
from handlers.observability import logger

HIDDEN_FIELDS = ("listing", REVISION, TTL_ATTRIBUTE)


def find_image(image_id: str, deps: Deps[ApiSettings]) -> dict[str, Any]:
    """The public view of one image (``GET /images/{image_id}``).

    Raises:
        NotFound: unknown id, an id of the wrong shape, or an expired pending upload.
        TransientError: the table is busy.
    """
    item = deps.metadata.get(image_id) if is_image_id(image_id) else None
    if item is None or is_expired(item, time.time()):
        raise NotFound(f"no image with id {image_id!r}")
    logger.append_keys(image_id=image_id)
    return public_view(item, deps, rendition_urls=True)


def recent_images(limit: int, cursor: str | None, deps: Deps[ApiSettings]) -> dict[str, Any]:
    """One page newest first (``GET /images``): ``{"items": [...], "next_cursor": str | None}``.

    Expired pending uploads are left out, so a page may hold fewer than ``limit`` items
    while ``next_cursor`` is set.

    Raises:
        BadRequest: ``bad_cursor`` for a cursor this API did not return.
        TransientError: the table is busy.
    """
    start_key = decode_cursor(cursor) if cursor else None
    items, last_key = deps.metadata.list_recent(limit=limit, start_key=start_key)
    now_s = time.time()
    return {
        "items": [public_view(item, deps) for item in items if not is_expired(item, now_s)],
        "next_cursor": encode_cursor(last_key) if last_key else None,
    }


def public_view(
    item: Mapping[str, Any], deps: Deps[ApiSettings], *, rendition_urls: bool = False
) -> dict[str, Any]:
    """The item as the API shows it: internals hidden, download URL when processed.

    ``rendition_urls``: also a time-limited ``url`` in each entry of ``renditions``.
    """
    out = {k: v for k, v in item.items() if k not in HIDDEN_FIELDS}
    out["status_url"] = f"/images/{item['image_id']}"
    if item.get("status") == "processed" and item.get("processed_key"):
        bucket = item["processed_bucket"]
        expires_s = deps.settings.download_url_expires_s
        out["download_url"] = deps.objects.presign_get(
            bucket, item["processed_key"], expires_s=expires_s
        )
        out["download_expires_in_s"] = expires_s
        listed = item.get("renditions")
        if rendition_urls and isinstance(listed, list):
            out["renditions"] = [
                {
                    **entry,
                    "url": deps.objects.presign_get(bucket, entry["key"], expires_s=expires_s),
                }
                for entry in listed
            ]
    return out


def is_expired(item: Mapping[str, Any], now_s: float) -> bool:
    """True for a pending upload past its ``expires_at`` (epoch seconds)."""
    expires_at = item.get(TTL_ATTRIBUTE)
    return (
        item.get("status") == "pending"
        and isinstance(expires_at, int | float)
        and expires_at < now_s
    )
