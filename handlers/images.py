"""The API's image use cases: one image's status, the newest-first listing, deletion.

Items are shown as a public view (:func:`public_view`): without the internals of
:data:`handlers.item.INTERNAL_FIELDS` (bucket names, source keys, ETag, version id, owner,
upload token), with ``status_url``, once processed a time-limited ``download_url`` of the
default rendition, and for a ``failed`` item a message meant for the caller instead of the
internal one. One image's view also gives each entry of ``renditions`` its own
time-limited ``url``; a listing page leaves those out (a presigned URL costs about 0.4 ms
of CPU, and a page of 100 images of the ``web-large`` preset would sign 1,000 of them). Pending
uploads past their ``expires_at`` (TTL deletes them within days) are treated as gone: 404
for one image, left out of a listing page.

Ownership (:mod:`handlers.auth`): a caller sees only its own images; someone else's id is
answered 404 exactly as an unknown one (never 403: that would confirm it exists).
:func:`owned_item` is the one check, for every route that reads or changes one image.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from handlers.auth import ANONYMOUS, Caller
from handlers.bootstrap import Deps
from handlers.config import ApiSettings
from handlers.cursor import decode_cursor, encode_cursor
from handlers.errors import Conflict, NotFound
from handlers.item import (
    DELETED_REVISION,
    INTERNAL_FIELDS,
    REVISION,
    TTL_ATTRIBUTE,
    ImageItem,
    deleted_expiry,
    deleted_fields,
    utc_now,
)
from handlers.keys import is_image_id
from handlers.observability import logger

HIDDEN_FIELDS = INTERNAL_FIELDS
PUBLIC_FAILURE_MESSAGES = {
    "upload_failed": "the image could not be stored; upload it again",
    "source_missing": "the uploaded object no longer exists",
}
"""Failure reasons whose message is meant for the caller; any other ``failed`` item shows
:data:`GENERIC_FAILURE_MESSAGE` (its own message, e.g. "unexpected InvalidObjectState; the
event will be retried", stays in the table and the logs)."""
GENERIC_FAILURE_MESSAGE = "the image could not be processed; it is retried automatically"


def owned_item(image_id: str, caller: Caller, deps: Deps[ApiSettings]) -> ImageItem:
    """The item of ``image_id`` if ``caller`` may see it (the one ownership check).

    Raises:
        NotFound: unknown id, an id of the wrong shape, an expired pending upload, or
            someone else's image (the same answer: its existence is not confirmed).
        TransientError: the table is busy.
    """
    item = deps.metadata.get(image_id) if is_image_id(image_id) else None
    if item is None or is_expired(item, time.time()) or not caller.may_see(item):
        raise NotFound(f"no image with id {image_id!r}")
    logger.append_keys(image_id=image_id)
    return item


def find_image(
    image_id: str, deps: Deps[ApiSettings], caller: Caller | None = None
) -> dict[str, Any]:
    """The public view of one image (``GET /images/{image_id}``); ``caller``: who asks.

    ``caller`` ``None``: an anonymous caller that sees everything (``AUTH_MODE=none``).

    Raises:
        NotFound: see :func:`owned_item`.
        TransientError: the table is busy.
    """
    caller = caller or Caller(ANONYMOUS, sees_all=True)
    return public_view(owned_item(image_id, caller, deps), deps, rendition_urls=True)


def delete_image(
    image_id: str, deps: Deps[ApiSettings], caller: Caller | None = None
) -> dict[str, Any]:
    """Delete an image's original (``DELETE /images/{image_id}``); idempotent.

    The original's removal flows through the resize function as any ``ObjectRemoved``
    event does (:mod:`handlers.deletion`: renditions deleted, item ``deleted``), so the
    answer is ``{"image_id", "status": "deleting" | "deleted", "status_url"}`` (202).
    A pending upload whose object never arrived is marked ``deleted`` at once (there is
    nothing to remove; an object arriving later is processed as a new upload only if it
    was sent after this moment). An image deleted already answers the same, again.

    ``caller``: who asks (:func:`owned_item`: someone else's image is a 404); ``None``: an
    anonymous caller that sees everything (``AUTH_MODE=none``).

    Raises:
        NotFound: see :func:`owned_item`.
        Conflict: the original is not in the uploads bucket this API may delete from.
        TransientError: S3 or the table is busy.
    """
    item = owned_item(image_id, caller or Caller(ANONYMOUS, sees_all=True), deps)
    status = item.get("status")
    answer = {"image_id": image_id, "status_url": f"/images/{image_id}"}
    if status == "deleted":
        return {**answer, "status": "deleted"}
    bucket, key = item.get("source_bucket"), item.get("source_key")
    if bucket != deps.settings.uploads_bucket or not isinstance(key, str):
        msg = "this image's original is not in the uploads bucket; delete it where it is"
        raise Conflict(msg)
    deps.objects.delete(bucket, key)
    if status == "pending" and REVISION not in item:
        now = utc_now()
        fields = deleted_fields(
            now=now,
            event_time=now,
            sequencer=None,
            expires_at=deleted_expiry(deps.settings.deleted_item_ttl_days, time.time()),
        )
        if deps.metadata.record(image_id, DELETED_REVISION, fields):
            return {**answer, "status": "deleted"}
    return {**answer, "status": "deleting"}


def recent_images(
    limit: int, cursor: str | None, deps: Deps[ApiSettings], caller: Caller | None = None
) -> dict[str, Any]:
    """One page newest first (``GET /images``): ``{"items": [...], "next_cursor": str | None}``.

    A caller that does not see everything gets its own images only (``by_owner`` index).
    Expired pending uploads and deleted images are left out, so a page may hold fewer
    than ``limit`` items while ``next_cursor`` is set.

    Raises:
        BadRequest: ``bad_cursor`` for a cursor this API did not return (to this caller).
        TransientError: the table is busy.
    """
    owner = None if caller is None or caller.sees_all else caller.owner
    start_key = decode_cursor(cursor, owner=owner) if cursor else None
    items, last_key = deps.metadata.list_recent(limit=limit, start_key=start_key, owner=owner)
    now_s = time.time()
    shown = [i for i in items if not is_expired(i, now_s) and i.get("status") != "deleted"]
    return {
        "items": [public_view(item, deps) for item in shown],
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
    if item.get("status") == "failed" and "error_message" in item:
        reason = str(item.get("error_reason", ""))
        out["error_message"] = PUBLIC_FAILURE_MESSAGES.get(reason, GENERIC_FAILURE_MESSAGE)
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
