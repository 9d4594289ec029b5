"""Giving up on an object: its message failed on the last receive and goes to the DLQ.

SQS moves a message to the dead-letter queue once it was received ``maxReceiveCount``
times (the queue's redrive policy); Lambda's SQS event carries each message's
``ApproximateReceiveCount``. When processing fails on a receive at or past
``MAX_RECEIVE_COUNT`` (the same number, given to the function by the template), the
resize function gives up on the object before the message goes (:func:`give_up`):

- its item ends ``failed`` with ``error_reason`` ``gave_up`` and a message saying so, for
  a direct upload too (the item is created when there is none), so no image stays
  ``pending`` or without an item;
- its renditions are removed (:func:`handlers.removal.remove_renditions`), so a rendition
  written before the item write kept failing does not stay without an item;
- ``ImagesGivenUp`` is counted (the template's ``GaveUpAlarm`` watches it, beside the
  DLQ depth alarm).

The write is the usual conditional outcome write (:func:`handlers.item.refusal`): when
the revision was processed or rejected after all, or a newer revision is recorded, it is
refused and nothing is removed. ``failed`` is an open state: a redrive from the DLQ
processes the object again and replaces it.
"""

from __future__ import annotations

from collections.abc import Callable

from handlers import item
from handlers.config import ResizeSettings
from handlers.decision import (
    MARKER_KEY,
    MARKER_VALUE,
    claimed_api_id,
    is_superseded,
    item_id_of,
    screen,
)
from handlers.errors import TransientError
from handlers.events import ObjectCreated
from handlers.item import SourceRevision, utc_now
from handlers.observability import MetricUnit, logger, metrics
from handlers.pipeline import Outcome
from handlers.ports import MetadataStore, ObjectHead, ObjectStore
from handlers.removal import remove_renditions

GAVE_UP = "gave_up"
"""The ``error_reason`` of an item whose object the resize function gave up on."""


def give_up(
    obj: ObjectCreated,
    error: Exception,
    *,
    attempts: int,
    settings: ResizeSettings,
    objects: ObjectStore,
    metadata: MetadataStore,
    now: Callable[[], str] = utc_now,
) -> Outcome:
    """Record that ``obj`` will not be retried (``error`` on attempt ``attempts``).

    Returns:
        ``failed``/``gave_up`` when recorded; a ``skipped`` outcome when there is nothing
        to give up on (our own rendition, a folder marker, a key that holds a newer
        version) or the write was refused (a final outcome or newer revision is there).

    Raises:
        TransientError: the item could not be read or written (the message goes to the
            DLQ all the same; the DLQ alarm still tells).
    """
    skip = screen(obj, settings)
    if skip:
        return Outcome("skipped", reason=skip.reason)
    head = _head_or_none(obj, objects)
    if head is not None and is_superseded(obj, head):
        return Outcome("skipped", reason="superseded")
    if head is not None and head.metadata.get(MARKER_KEY) == MARKER_VALUE:
        return Outcome("skipped", reason="recursion")
    claimed = claimed_api_id(obj, head, settings)
    api_item = metadata.get(claimed) if claimed else None
    image_id, origin = item_id_of(obj, head, settings, api_item)
    logger.append_keys(image_id=image_id)
    revision = _revision(obj, head)
    source = SourceRevision(
        image_id=image_id,
        origin=origin,
        bucket=obj.bucket,
        key=obj.key,
        revision=revision,
        etag=head.etag if head else (obj.etag or ""),
        version_id=head.version_id if head else obj.version_id,
        event_time=obj.event_time,
        size_bytes=head.size_bytes if head else (obj.size_bytes or 0),
    )
    fields, keep = item.revision_fields(source, now=now())
    if head is None and obj.size_bytes is None:
        fields.pop("original_size_bytes", None)
    message = (
        f"gave up after {attempts} failed attempts ({describe_error(error)}); the event "
        "is in the dead-letter queue and can be redriven"
    )
    fields.update(item.failed_fields(GAVE_UP, message, now=now()))
    written = metadata.record(
        image_id, revision, fields, remove=item.RENDITION_FIELDS, keep_if_present=keep
    )
    if not written:
        logger.info("nothing to give up on: the item holds a final or newer outcome")
        return Outcome("skipped", image_id=image_id, reason="duplicate")
    metrics.add_metric(name="ImagesGivenUp", unit=MetricUnit.Count, value=1)
    removed: list[str] = []
    try:
        removed = remove_renditions(obj.bucket, obj.key, settings=settings, objects=objects)
    except Exception:
        logger.exception("could not remove the renditions of a source given up on")
    logger.error(
        "gave up: the item is failed (gave_up) and the message goes to the dead-letter queue",
        extra={"attempts": attempts, "error": describe_error(error), "removed": removed},
    )
    return Outcome("failed", image_id=image_id, reason=GAVE_UP)


def describe_error(error: Exception) -> str:
    """A short, safe description: ``s3.get_object SlowDown`` or the exception's class name."""
    if isinstance(error, TransientError):
        return f"{error.operation} {error.code}"
    return type(error).__name__


def _head_or_none(obj: ObjectCreated, objects: ObjectStore) -> ObjectHead | None:
    """The object's HEAD, or ``None`` when it is gone or S3 cannot tell right now."""
    try:
        return objects.head(obj.bucket, obj.key)
    except Exception:
        return None


def _revision(obj: ObjectCreated, head: ObjectHead | None) -> str:
    """Version id, else ETag, from the HEAD when known, else from the event."""
    if head is not None:
        return head.version_id or head.etag
    return obj.version_id or obj.etag or "unknown"
