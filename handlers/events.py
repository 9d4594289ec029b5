"""The only code that knows event shapes: S3 notifications, SQS, EventBridge, S3 Batch Operations.

Each "object created" notification becomes an :class:`ObjectCreated` with the key
URL-decoded exactly once (S3 sends keys form-encoded: ``red flower.jpg`` arrives as
``red+flower.jpg`` and a literal ``+`` as ``%2B``; EventBridge keys are decoded the same
way, as Powertools does). Sources of the shapes:

- S3 -> Lambda: https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
- S3 -> SQS -> Lambda: the same JSON as the SQS message body (plus ``s3:TestEvent``
  messages to ignore); SNS-wrapped bodies are unwrapped too.
- EventBridge: https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html
- Removals (``ObjectRemoved:*``, ``LifecycleExpiration:*``; EventBridge "Object Deleted")
  become :class:`ObjectRemoved` (:func:`changes_from_event`, :func:`changes_from_message`);
  the older :func:`objects_from_event` / :func:`objects_from_message` keep returning the
  created objects only.
- S3 Batch Operations (``invocationSchemaVersion`` 1.0 and 2.0:
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html):
  each task becomes a :class:`BatchTask` whose object is an :class:`ObjectCreated` with
  ``reprocess=True`` (keys URL-encoded in the payload, decoded once here; 2.0 names the
  bucket ``s3Bucket``, 1.0 gives ``s3BucketArn``). The same JSON as an SQS message body is
  a reprocess request fed through the queue (``deploy.local.reprocess``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import (
    S3Event,
    S3EventBridgeNotificationEvent,
    SQSEvent,
)
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord

EventKind = Literal["sqs", "s3", "eventbridge", "batch"]
T = TypeVar("T")


class EventShapeError(ValueError):
    """The event or message is not a shape this function understands."""


@dataclass(frozen=True, slots=True)
class ObjectCreated:
    """One created S3 object, as told by a notification.

    Attributes:
        bucket: source bucket name.
        key: the exact object key (decoded once from the notification).
        size_bytes: object size from the notification, when given.
        etag: entity tag without quotes, when given.
        version_id: version id in a versioned bucket, else ``None``.
        sequencer: S3's ordering token, when given (emulators often omit it). Kept for
            ordering events of one key (S3 documents it for telling a later PUT or DELETE
            from an earlier one); the resize decision orders revisions by version/ETag and
            event time and does not read it.
        event_time: ISO 8601 UTC time of the event (``...Z``), when given.
    """

    bucket: str
    key: str
    size_bytes: int | None = None
    etag: str | None = None
    version_id: str | None = None
    sequencer: str | None = None
    event_time: str | None = None
    reprocess: bool = False
    """A reprocess request (S3 Batch Operations or the reprocess command), not an upload."""


RemovalKind = Literal["delete", "delete_marker"]


@dataclass(frozen=True, slots=True)
class ObjectRemoved:
    """One removed S3 object (``ObjectRemoved:*``, ``LifecycleExpiration:*``, EventBridge
    "Object Deleted").

    Attributes:
        bucket, key: where the object was (key decoded once).
        kind: ``delete`` (the object, or the named version, is gone for good) or
            ``delete_marker`` (a versioned bucket now hides the key behind a marker).
        version_id: for ``delete`` the deleted version, for ``delete_marker`` the marker's
            own id; ``None`` in an unversioned bucket.
        sequencer: S3's ordering token for events of one key, when given.
        event_time: ISO 8601 UTC time of the event, when given.
        lifecycle: removed by a lifecycle expiration rule rather than a request.
    """

    bucket: str
    key: str
    kind: RemovalKind = "delete"
    version_id: str | None = None
    sequencer: str | None = None
    event_time: str | None = None
    lifecycle: bool = False


Change = ObjectCreated | ObjectRemoved


@dataclass(frozen=True, slots=True)
class BatchTask:
    """One S3 Batch Operations task: its id (for the result) and the object to reprocess."""

    task_id: str
    obj: ObjectCreated


@dataclass(frozen=True, slots=True)
class QueueMessage:
    """One SQS message of a batch: its id (for ``batchItemFailures``) and raw body."""

    message_id: str
    body: str
    receive_count: int


def decode_key(encoded: str) -> str:
    """Decode a notification's form-encoded key once (``+`` is a space, ``%2B`` a plus)."""
    return unquote_plus(encoded)


def event_kind(event: Mapping[str, Any]) -> EventKind:
    """Tell which delivery ``event`` is.

    Raises:
        EventShapeError: for anything but SQS, S3 notification or EventBridge events.
    """
    records = event.get("Records")
    if records == []:
        return "sqs"  # an empty batch: nothing to do, answered with no failures
    if isinstance(records, list) and isinstance(records[0], Mapping):
        source = records[0].get("eventSource")
        if source == "aws:sqs":
            return "sqs"
        if source == "aws:s3":
            return "s3"
    if "detail-type" in event and event.get("source") == "aws.s3":
        return "eventbridge"
    if event.get("Event") == "s3:TestEvent":
        return "s3"  # sent when a notification is configured; nothing to process
    if "invocationSchemaVersion" in event and "tasks" in event:
        return "batch"
    msg = (
        "expected an S3 notification, an SQS batch, an EventBridge S3 event or an S3 Batch "
        "Operations invocation"
    )
    raise EventShapeError(msg)


def objects_from_event(event: Mapping[str, Any]) -> list[ObjectCreated]:
    """Created objects in a direct S3 notification or EventBridge event.

    Records of other event types (removals, restores, test events) are left out.

    Raises:
        EventShapeError: when required fields are missing.
    """
    return [c for c in changes_from_event(event) if isinstance(c, ObjectCreated)]


def changes_from_event(event: Mapping[str, Any]) -> list[Change]:
    """Created and removed objects in an S3 notification, EventBridge event or S3 Batch
    Operations invocation (its tasks as reprocess requests), in event order.

    Other event types (restores, tagging, test events) are left out.

    Raises:
        EventShapeError: when required fields are missing.
    """
    if event.get("Event") == "s3:TestEvent":
        return []
    if "detail-type" in event:
        return _from_eventbridge(event)
    if "Records" in event:
        return _from_s3_notification(event)
    if "invocationSchemaVersion" in event and "tasks" in event:
        return [task.obj for task in batch_tasks(event)]
    msg = "neither S3 notification records, an EventBridge detail nor Batch Operations tasks"
    raise EventShapeError(msg)


def batch_tasks(event: Mapping[str, Any]) -> list[BatchTask]:
    """The tasks of an S3 Batch Operations invocation (schema 1.0 or 2.0).

    Raises:
        EventShapeError: a task lacks its id, key or bucket.
    """
    try:
        tasks = []
        for task in event["tasks"]:
            bucket = task.get("s3Bucket") or task.get("s3BucketName")
            if not bucket and task.get("s3BucketArn"):
                bucket = str(task["s3BucketArn"]).rsplit(":", 1)[-1]
            if not isinstance(bucket, str) or not bucket:
                msg = "a Batch Operations task names no bucket"
                raise EventShapeError(msg)
            obj = ObjectCreated(
                bucket=bucket,
                key=decode_key(str(task["s3Key"])),
                version_id=task.get("s3VersionId") or None,
                reprocess=True,
            )
            tasks.append(BatchTask(task_id=str(task["taskId"]), obj=obj))
    except (KeyError, TypeError, AttributeError) as e:
        msg = f"S3 Batch Operations task lacks {e}"
        raise EventShapeError(msg) from e
    return tasks


def sqs_messages(event: Mapping[str, Any]) -> list[QueueMessage]:
    """The messages of an SQS batch event."""
    return [
        QueueMessage(
            message_id=r.message_id,
            body=r.body or "",
            receive_count=int(r.attributes.approximate_receive_count or 1),
        )
        for r in SQSEvent(dict(event)).records
    ]


def objects_from_message(body: str) -> list[ObjectCreated]:
    """Created objects in one SQS message body (S3 notification, SNS-wrapped, EventBridge).

    Raises:
        EventShapeError: as :func:`changes_from_message`.
    """
    return [c for c in changes_from_message(body) if isinstance(c, ObjectCreated)]


def changes_from_message(body: str) -> list[Change]:
    """Created and removed objects in one SQS message body (S3 notification, SNS-wrapped,
    EventBridge, or a reprocess request in the Batch Operations shape).

    Raises:
        EventShapeError: for a body that is not JSON (also JSON nested too deeply to parse,
            which raises ``RecursionError``) or not one of those shapes.
    """
    try:
        payload = json.loads(body)
        if isinstance(payload, dict) and payload.get("Type") == "Notification":
            payload = json.loads(payload["Message"])  # SNS envelope
    except (ValueError, KeyError, TypeError, RecursionError) as e:
        msg = f"message body is not an S3 notification: {e}"
        raise EventShapeError(msg) from e
    if not isinstance(payload, dict):
        msg = f"expected a JSON object in the message body, got {type(payload).__name__}"
        raise EventShapeError(msg)
    return changes_from_event(payload)


REMOVAL_EVENTS = ("ObjectRemoved:", "LifecycleExpiration:")


def _from_s3_notification(event: Mapping[str, Any]) -> list[Change]:
    try:
        changes: list[Change] = []
        for record in S3Event(dict(event)).records:
            name = record.event_name
            if name.startswith("ObjectCreated:"):
                changes.append(_created(record))
            elif name.startswith(REMOVAL_EVENTS):
                changes.append(_removed(record))
        return changes
    except (KeyError, TypeError, AttributeError) as e:
        msg = f"S3 notification record lacks {e}"
        raise EventShapeError(msg) from e


def _removed(record: S3EventRecord) -> ObjectRemoved:
    """``ObjectRemoved:Delete`` / ``:DeleteMarkerCreated``, ``LifecycleExpiration:Delete`` /
    ``:DeleteMarkerCreated`` (no size or ETag: the object is gone)."""
    obj = record.s3.get_object
    name = record.event_name
    return ObjectRemoved(
        bucket=record.s3.bucket.name,
        key=decode_key(obj.key),
        kind="delete_marker" if name.endswith("DeleteMarkerCreated") else "delete",
        version_id=_optional(lambda: obj.version_id) or None,
        sequencer=_optional(lambda: obj.sequencer) or None,
        event_time=iso_utc(_optional(lambda: record.event_time)),
        lifecycle=name.startswith("LifecycleExpiration:"),
    )


def _created(record: S3EventRecord) -> ObjectCreated:
    obj = record.s3.get_object
    return ObjectCreated(
        bucket=record.s3.bucket.name,
        key=decode_key(obj.key),  # Powertools leaves this one encoded
        size_bytes=_optional(lambda: obj.size),
        etag=_clean_etag(obj.etag),
        version_id=obj.version_id or None,
        sequencer=_optional(lambda: obj.sequencer) or None,
        event_time=iso_utc(_optional(lambda: record.event_time)),
    )


def _from_eventbridge(event: Mapping[str, Any]) -> list[Change]:
    if event.get("detail-type") == "Object Deleted":
        return [_deleted_via_eventbridge(event)]
    if event.get("detail-type") != "Object Created":
        return []
    try:
        notification = S3EventBridgeNotificationEvent(dict(event))
        obj = notification.detail.object
        return [
            ObjectCreated(
                bucket=notification.detail.bucket.name,
                key=obj.key,  # decoded once by Powertools
                size_bytes=_int_or_none(obj.size),
                etag=_clean_etag(obj.etag),
                version_id=_optional(lambda: obj.version_id) or None,
                sequencer=_optional(lambda: obj.sequencer) or None,
                event_time=iso_utc(_optional(lambda: notification.time)),
            )
        ]
    except (KeyError, TypeError, AttributeError) as e:
        msg = f"EventBridge S3 event lacks {e}"
        raise EventShapeError(msg) from e


def _deleted_via_eventbridge(event: Mapping[str, Any]) -> ObjectRemoved:
    try:
        notification = S3EventBridgeNotificationEvent(dict(event))
        detail = notification.detail
        obj = detail.object
        return ObjectRemoved(
            bucket=detail.bucket.name,
            key=obj.key,
            kind="delete_marker" if detail.deletion_type == "Delete Marker Created" else "delete",
            version_id=_optional(lambda: obj.version_id) or None,
            sequencer=_optional(lambda: obj.sequencer) or None,
            event_time=iso_utc(_optional(lambda: notification.time)),
            lifecycle=detail.reason == "Lifecycle Expiration",
        )
    except (KeyError, TypeError, AttributeError) as e:
        msg = f"EventBridge S3 event lacks {e}"
        raise EventShapeError(msg) from e


def iso_utc(value: object) -> str | None:
    """Normalise an ISO 8601 timestamp to UTC with milliseconds: ``2024-05-01T12:00:00.000Z``.

    Returns ``None`` for a missing or unparseable value.
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return format_utc(parsed)


def format_utc(moment: datetime) -> str:
    """``moment`` as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (sortable as a string)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _optional(read: Callable[[], T]) -> T | None:
    """A typed property of a field S3 may leave out: ``None`` when absent or malformed.

    Powertools' properties index the event (``KeyError`` when a field is absent: no
    ``sequencer`` from emulators, no ``version-id`` in unversioned buckets) and convert
    (``ValueError`` for a size that is not a number).
    """
    try:
        return read()
    except (KeyError, TypeError, ValueError):
        return None


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _clean_etag(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return value.strip('"')
