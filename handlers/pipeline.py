"""Resize one created object: guard, HEAD, GET, engine, PUT rendition, record the item.

The rules (decided here, carried out through the two ports):

- Recursion guard: objects in the processed bucket under the processed prefix (the whole
  bucket when the prefix is empty), and objects carrying ``generated-by: image-pipeline``
  metadata, are skipped, even when ``PROCESSED_BUCKET`` is the source bucket.
- Superseded deliveries: when the key's current version (or ETag, unversioned) is not the
  one the event names, the event is skipped: the newer object has its own event, so the
  newest version's rendition wins whatever the delivery order.
- image id: ``image-id`` object metadata, else ``{UPLOADS_PREFIX}{image_id}/`` in the key
  (API uploads; both only for objects in ``UPLOADS_BUCKET`` when it is set), else
  :func:`handlers.keys.direct_image_id` of bucket and key: one item per direct key, as
  there is one rendition per key. The item describes one revision (version id, else ETag:
  ``source_revision``; also ``source_version_id``, ``source_etag``, ``source_event_time``);
  an outcome for a newer revision rewrites it (sizes, status, ``processed_at``; a direct
  upload's ``uploaded_at`` moves to the new version's event time, an API upload keeps its
  pending item's ``uploaded_at`` and ``filename``).
- Idempotency and order: a final outcome already recorded for the same revision makes the
  event a ``duplicate``; an item describing another revision with a later event time makes
  it ``superseded``. Both are checked before the work and again by the conditional write
  (``DynamoMetadataStore.record``). Caveat: two versions of one key processed at the same
  moment can still race on the rendition PUT (the newer item is kept either way).
- Rejected items also record what the engine knew (``ImageRejected.facts``).
- Oversize objects (HEAD ContentLength > ``MAX_OBJECT_BYTES``) are rejected as
  ``too_large`` without a GET. ``ImageRejected`` from the engine gives a ``rejected``
  item, no output, no retry. ``TransientError`` propagates for a retry; any other error
  (engine bug, S3 refusing the rendition PUT) marks the item ``failed``, then propagates.
- A source deleted before it could be read is a final outcome, never retried: an API
  upload's item becomes ``failed`` (``source_missing``); a direct upload records nothing.
- Folder markers (a zero-byte object whose key ends in ``/``, what the S3 console's
  "Create folder" writes) are skipped without an item.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from handlers.config import ResizeSettings
from handlers.errors import ObjectMissing, PreconditionFailed, TransientError
from handlers.events import ObjectCreated, format_utc
from handlers.keys import (
    direct_image_id,
    image_id_from_upload_key,
    is_image_id,
    metadata_safe,
    rendition_key,
)
from handlers.observability import logger
from handlers.ports import MetadataStore, ObjectHead, ObjectStore
from imgproc import ImageRejected, Result, process
from imgproc.errors import TOO_LARGE

MARKER_KEY = "generated-by"
MARKER_VALUE = "image-pipeline"
FINAL = ("processed", "rejected")
_PROCESSED_FIELDS = (
    "processed_bucket",
    "processed_key",
    "processed_width",
    "processed_height",
    "processed_size_bytes",
    "content_type",
    "original_width",
    "original_height",
    "original_format",
    "original_mode",
    "has_alpha",
    "orientation",
    "icc_converted",
)
_ERROR_FIELDS = ("error_reason", "error_message")
# Facts an ImageRejected may carry, and the type each must have to be recorded.
_REJECTION_FACTS: dict[str, type] = {
    "original_format": str,
    "original_width": int,
    "original_height": int,
    "original_mode": str,
}

SkipReason = Literal["recursion", "duplicate", "superseded", "source_missing", "folder_marker"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one object.

    Attributes:
        status: ``processed``, ``rejected``, ``failed`` or ``skipped``.
        image_id: the item's id, when one was determined.
        reason: rejection reason code or skip reason.
        processed_key: the rendition's key when processed.
        bytes_in, bytes_out: source bytes read, rendition bytes written.
        duration_ms: time from HEAD to recorded item.
    """

    status: Literal["processed", "rejected", "failed", "skipped"]
    image_id: str | None = None
    reason: str | None = None
    processed_key: str | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    duration_ms: float = 0.0


def utc_now() -> str:
    """Now as ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    return format_utc(datetime.now(UTC))


def is_own_output(bucket: str, key: str, settings: ResizeSettings) -> bool:
    """True when ``bucket``/``key`` lies where renditions are written."""
    return bucket == settings.processed_bucket and key.startswith(settings.processed_prefix)


def resize_object(
    obj: ObjectCreated,
    *,
    settings: ResizeSettings,
    objects: ObjectStore,
    metadata: MetadataStore,
    now: Callable[[], str] = utc_now,
) -> Outcome:
    """Make and record the rendition of one created object.

    Returns:
        The :class:`Outcome`; rejections and skips are outcomes, not exceptions.

    Raises:
        TransientError: S3 or DynamoDB throttling, timeout or 5xx (retry the event).
        Exception: anything unexpected, after marking the item ``failed`` (best effort).
    """
    started = time.perf_counter()
    if is_own_output(obj.bucket, obj.key, settings):
        return Outcome("skipped", reason="recursion")
    if obj.key.endswith("/") and obj.size_bytes == 0:
        return Outcome("skipped", reason="folder_marker")
    try:
        head = objects.head(obj.bucket, obj.key)
    except ObjectMissing:
        return _source_missing(obj, settings, metadata, now)
    if _superseded(obj, head):
        return Outcome("skipped", reason="superseded")
    if head.metadata.get(MARKER_KEY) == MARKER_VALUE:
        return Outcome("skipped", reason="recursion")

    revision = head.version_id or head.etag
    image_id, origin = _image_id(obj, head, settings)
    logger.append_keys(image_id=image_id)
    late = _late_reason(metadata.get(image_id), revision, obj.event_time)
    if late:
        return Outcome("skipped", image_id=image_id, reason=late)

    common: dict[str, Any] = {
        "source_bucket": obj.bucket,
        "source_key": obj.key,
        "source_etag": head.etag,
        "source_version_id": head.version_id,
        "source_event_time": obj.event_time,
        "original_size_bytes": head.size_bytes,
        "origin": origin,
        "updated_at": now(),
    }
    # An API upload keeps its pending item's values; a direct upload's item describes
    # the version at hand, so a new version moves uploaded_at to its own time.
    upload = {"uploaded_at": obj.event_time or now(), "filename": obj.key.rsplit("/", 1)[-1]}
    keep = upload if origin == "api" else {}
    if origin != "api":
        common.update(upload)

    def record(status: str, fields: dict[str, Any], remove: tuple[str, ...]) -> str | None:
        """Write the outcome; ``None`` when written, else the skip reason."""
        stamped = {"image_id": image_id, "status": status, "processed_at": now(), **fields}
        if metadata.record(
            image_id, revision, {**common, **stamped}, remove=remove, keep_if_present=keep
        ):
            return None
        return _late_reason(metadata.get(image_id), revision, obj.event_time) or "duplicate"

    try:
        if head.size_bytes > settings.max_object_bytes:
            msg = f"expected at most {settings.max_object_bytes} bytes, got {head.size_bytes}"
            raise ImageRejected(TOO_LARGE, msg)
        try:
            data = objects.get(
                obj.bucket,
                obj.key,
                version_id=head.version_id,
                if_match=None if head.version_id else head.etag,
                max_bytes=settings.max_object_bytes,
            )
        except PreconditionFailed:
            return Outcome("skipped", image_id=image_id, reason="superseded")
        except ObjectMissing:
            return _source_missing(obj, settings, metadata, now)
        result = process(data, max_dim=settings.max_dim_px, max_pixels=settings.max_pixels)
        out_key = _write_rendition(obj, head, image_id, result, settings, objects)
    except ImageRejected as rejection:
        fields = {
            "error_reason": rejection.reason,
            "error_message": rejection.message,
            **rejection_facts(rejection),
        }
        skipped = record("rejected", fields, _PROCESSED_FIELDS)
        elapsed = _ms(started)
        if skipped:
            return Outcome("skipped", image_id=image_id, reason=skipped, duration_ms=elapsed)
        return Outcome("rejected", image_id=image_id, reason=rejection.reason, duration_ms=elapsed)
    except TransientError:
        raise
    except Exception as error:
        _mark_failed(image_id, revision, common, keep, metadata, now, error)
        raise

    fields = {
        "processed_bucket": settings.processed_bucket,
        "processed_key": out_key,
        "processed_width": result.width,
        "processed_height": result.height,
        "processed_size_bytes": result.size_bytes,
        "content_type": result.content_type,
        "original_width": result.original_width,
        "original_height": result.original_height,
        "original_format": result.original_format,
        "original_mode": result.original_mode,
        "has_alpha": result.has_alpha,
        "orientation": result.orientation,
        "icc_converted": result.icc_converted,
    }
    skipped = record("processed", fields, _ERROR_FIELDS)
    if skipped == "superseded":
        logger.warning(
            "a newer version was recorded while this one was processed; its rendition at "
            "processed_key may now hold this older version",
            extra={"processed_key": out_key},
        )
    return Outcome(
        "skipped" if skipped else "processed",
        image_id=image_id,
        reason=skipped,
        processed_key=out_key,
        bytes_in=len(data),
        bytes_out=0 if skipped else result.size_bytes,
        duration_ms=_ms(started),
    )


def rejection_facts(rejection: ImageRejected) -> dict[str, Any]:
    """What the engine knew about a rejected image, for its item.

    Reads the optional ``facts`` attribute of :class:`imgproc.ImageRejected` (a mapping,
    possibly empty, absent from older engines) and keeps only ``original_format``,
    ``original_width``, ``original_height`` and ``original_mode`` of the right type
    (widths and heights as int numbers, never bools or strings).
    """
    facts = getattr(rejection, "facts", None)
    if not isinstance(facts, Mapping):
        return {}
    out: dict[str, Any] = {}
    for name, kind in _REJECTION_FACTS.items():
        value = facts.get(name)
        if isinstance(value, kind) and not isinstance(value, bool):
            out[name] = value
    return out


def _write_rendition(
    obj: ObjectCreated,
    head: ObjectHead,
    image_id: str,
    result: Result,
    settings: ResizeSettings,
    objects: ObjectStore,
) -> str:
    """PUT the rendition (marked as ours, pointing back to its source); returns its key.

    Raises:
        TransientError: throttling, timeout, 5xx; anything else S3 raises propagates.
    """
    out_key = rendition_key(obj.key, settings.processed_prefix, result.extension)
    source_key_meta, truncated = metadata_safe(obj.key)
    object_metadata = {
        MARKER_KEY: MARKER_VALUE,
        "image-id": image_id,
        "source-bucket": obj.bucket,
        "source-key": source_key_meta,
    }
    if truncated:
        object_metadata["source-key-truncated"] = "true"
    if head.version_id:
        object_metadata["source-version-id"] = head.version_id
    objects.put(
        settings.processed_bucket,
        out_key,
        result.data,
        content_type=result.content_type,
        cache_control=settings.rendition_cache_control,
        metadata=object_metadata,
    )
    return out_key


def _image_id(obj: ObjectCreated, head: ObjectHead, settings: ResizeSettings) -> tuple[str, str]:
    """``(image_id, origin)``; origin is ``"api"`` for API uploads, ``"s3"`` otherwise.

    The API's ids (metadata or key) are trusted only in the uploads bucket (any bucket
    when ``UPLOADS_BUCKET`` is unset), so an object elsewhere cannot take over an item.
    """
    if settings.uploads_bucket in (None, obj.bucket):
        from_metadata = head.metadata.get("image-id")
        if is_image_id(from_metadata):
            return str(from_metadata), "api"
        from_key = image_id_from_upload_key(obj.key, settings.uploads_prefix)
        if from_key:
            return from_key, "api"
    return direct_image_id(obj.bucket, obj.key), "s3"


def _late_reason(
    existing: Mapping[str, Any] | None, revision: str, event_time: str | None
) -> str | None:
    """``"duplicate"``, ``"superseded"`` or ``None`` (go ahead) for an event of ``revision``.

    Duplicate: the item already holds a final outcome for this revision. Superseded: the
    item describes another revision whose S3 event time is later than ``event_time``.
    """
    if not existing:
        return None
    if existing.get("source_revision") == revision:
        return "duplicate" if existing.get("status") in FINAL else None
    recorded = existing.get("source_event_time")
    if event_time and isinstance(recorded, str) and recorded > event_time:
        return "superseded"
    return None


def _superseded(obj: ObjectCreated, head: ObjectHead) -> bool:
    """True when the key now holds a different version than the event announced."""
    if obj.version_id and head.version_id:
        return obj.version_id != head.version_id
    if obj.etag and head.etag and not obj.version_id:
        return obj.etag != head.etag
    return False


def _source_missing(
    obj: ObjectCreated, settings: ResizeSettings, metadata: MetadataStore, now: Callable[[], str]
) -> Outcome:
    """The object is gone: mark an API upload's item failed; a direct upload records none."""
    image_id = None
    if settings.uploads_bucket in (None, obj.bucket):
        image_id = image_id_from_upload_key(obj.key, settings.uploads_prefix)
    logger.warning("source object is gone", extra={"bucket": obj.bucket, "key": obj.key})
    if image_id:
        fields = {
            "status": "failed",
            "error_reason": "source_missing",
            "error_message": "the uploaded object no longer exists",
            "source_bucket": obj.bucket,
            "source_key": obj.key,
            "updated_at": now(),
        }
        metadata.record(image_id, obj.version_id or obj.etag or "missing", fields)
    return Outcome("skipped", image_id=image_id, reason="source_missing")


def _mark_failed(
    image_id: str,
    revision: str,
    common: dict[str, Any],
    keep: dict[str, Any],
    metadata: MetadataStore,
    now: Callable[[], str],
    error: Exception,
) -> None:
    """Record ``failed`` before an unexpected error propagates; a retry may still succeed."""
    fields = {
        **common,
        "image_id": image_id,
        "status": "failed",
        "error_reason": "internal_error",
        "error_message": f"unexpected {type(error).__name__}; the event will be retried",
        "processed_at": now(),
    }
    try:
        metadata.record(image_id, revision, fields, remove=_PROCESSED_FIELDS, keep_if_present=keep)
    except Exception:  # best effort: the original error matters more
        logger.exception("could not mark the item failed")


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
