"""One log line per step of each image's way through the local pipeline (stderr).

    12:00:01.120 journey  uploaded   3f2a... photo.jpg (2.10 MB) via POST /images
    12:00:01.135 journey  queued     3f2a... s3://image-uploads/uploads/3f2a.../photo.jpg
    12:00:01.480 journey  processed  3f2a... 4000x3000 2.10 MB -> 500x375 48.2 kB (345 ms)
    12:00:01.700 journey  seen       3f2a... processed via GET /images/3f2a...
    12:00:09.010 journey  deleting   3f2a... via DELETE /images/3f2a...
    12:00:09.030 journey  queued     3f2a... removal of s3://image-uploads/uploads/3f2a.../photo.jpg
    12:00:09.060 journey  deleted    3f2a... s3://image-uploads/... and its renditions (21 ms)

Sizes are decimal (1 MB = 1,000,000 bytes, like the API's 4.5 MB body limit); an original's
size is upright (``WxH`` once EXIF orientation is applied, as its rendition), so a sideways
phone photo reads ``3024x4032 -> 375x500``, not as an upscale. Keys, file names and messages
come from outside: every one is printed through :func:`imgproc.cli_report.printable`
(``\\n``, ``\\t``, ``\\u202e``...), so a key cannot forge a line or reorder one.

A removal (``DELETE /images/{id}``, or any object removed from the uploads bucket, or expired
by a lifecycle rule) reaches the resize function as an ``ObjectRemoved`` or
``LifecycleExpiration`` event (handlers/deletion.py): its ``queued`` line says ``removal of``
(``expiry of``), and its outcome line is ``deleted`` (the item is now deleted), ``removed``
(no item: its renditions, if any, were deleted), ``kept`` (the item stays: a newer upload, or
the retention rule keeps an expired original's renditions) or ``duplicate``.

Hooks: :meth:`Journey.on_request_started` and :meth:`Journey.on_request` for the HTTP front,
:meth:`Journey.wrap_resize` and :meth:`Journey.on_batch` for the dispatcher. Reading only:
the journey never changes state. One ordering rule: S3 queues an API upload's event while
``POST /images`` is still running, so a ``queued`` line waits (at most
``UPLOAD_LINE_WAIT_S``, only while such a request is in flight) for its ``uploaded`` line.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError

from deploy.local.dispatcher import BatchOutcome
from deploy.local.http_front import CLIENT_CLOSED_STATUS, RequestRecord
from deploy.local.lambda_context import Handler
from handlers.config import normalise_prefix
from handlers.events import (
    Change,
    ObjectRemoved,
    changes_from_message,
    format_utc,
    iso_utc,
)
from handlers.keys import direct_image_id, image_id_from_upload_key
from imgproc.cli_report import human_size, printable
from imgproc.orientation import upright_size

log = logging.getLogger("journey")

UPLOAD_LINE_WAIT_S = 5.0


def item_size(size_bytes: object) -> str:
    """A size from an item or a request for a journey line: ``2.10 MB``, ``48.2 kB``,
    ``512 B`` (:func:`imgproc.cli_report.human_size`; DynamoDB's Decimals too); ``?`` when
    missing or not a number."""
    if isinstance(size_bytes, bool) or not isinstance(size_bytes, int | float | Decimal):
        return "?"
    return human_size(float(size_bytes))


def describe_item(item: dict[str, Any]) -> str:
    """The outcome part of a journey line, from a metadata item (printable: see above)."""
    status = item.get("status", "?")
    if status == "processed":
        width, height = item.get("original_width"), item.get("original_height")
        if isinstance(width, int | Decimal) and isinstance(height, int | Decimal):
            width, height = upright_size(int(width), int(height), item.get("orientation"))
        text = (
            f"{width}x{height} {item_size(item.get('original_size_bytes'))} -> "
            f"{item.get('processed_width')}x{item.get('processed_height')} "
            f"{item_size(item.get('processed_size_bytes'))} "
            f"s3://{item.get('processed_bucket')}/{item.get('processed_key')}"
        )
    elif status in ("rejected", "failed"):
        text = f"{item.get('error_reason')}: {item.get('error_message')}"
    else:
        text = str(status)
    return printable(text)


class Journey:
    """Logs each image's steps; looks items up in ``table`` to tell outcomes.

    ``uploads_prefix``: the API's key prefix for uploads (``Settings.uploads_prefix``), to
    give an object the image id the resize handler gives it.
    """

    def __init__(
        self,
        *,
        table: str,
        region: str,
        endpoint_url: str,
        visibility_timeout_s: int,
        uploads_prefix: str = "uploads/",
        max_receive_count: int | None = None,
        dlq_url: str = "",
    ) -> None:
        self.table = table
        self.visibility_timeout_s = visibility_timeout_s
        self.max_receive_count = max_receive_count  # the queue's redrive policy
        self.dlq_url = dlq_url
        self.uploads_prefix = normalise_prefix(uploads_prefix)  # as Settings has it
        self.dynamodb = boto3.client("dynamodb", region_name=region, endpoint_url=endpoint_url)
        self._deserialize = TypeDeserializer().deserialize
        self._seen_status: dict[str, str] = {}
        self._lock = threading.Lock()
        self._uploads = threading.Condition()  # guards the two below
        self._uploads_in_flight = 0  # POST /images requests between started and answered
        self._uploaded: set[str] = set()  # image ids whose "uploaded" line is out

    def image_id(self, obj: Change) -> str:
        """The image id the resize handler gives ``obj`` (handlers/keys.py rules)."""
        return image_id_from_upload_key(obj.key, self.uploads_prefix) or direct_image_id(
            obj.bucket, obj.key
        )

    def item(self, image_id: str) -> dict[str, Any] | None:
        """The metadata item of ``image_id`` or ``None`` (also on any read error)."""
        try:
            raw = self.dynamodb.get_item(
                TableName=self.table, Key={"image_id": {"S": image_id}}, ConsistentRead=True
            ).get("Item")
        except (BotoCoreError, ClientError):
            return None
        return {k: self._deserialize(v) for k, v in raw.items()} if raw else None

    # -- the HTTP front ------------------------------------------------------------------
    @staticmethod
    def _is_upload(method: str, path: str) -> bool:
        return method == "POST" and path.rstrip("/") == "/images"

    def on_request_started(self, method: str, path: str) -> None:
        """Count ``POST /images`` in flight (their S3 events may be queued before they end)."""
        if self._is_upload(method, path):
            with self._uploads:
                self._uploads_in_flight += 1

    def on_request(self, record: RequestRecord) -> None:
        """Log uploads, grants, status changes seen by clients, and API errors."""
        if self._is_upload(record.method, record.path):
            with self._uploads:  # the line goes out before any waiting "queued" line
                try:
                    self._log_request(record)
                finally:
                    self._uploads_in_flight = max(0, self._uploads_in_flight - 1)
                    self._uploads.notify_all()
            return
        self._log_request(record)

    def _log_request(self, record: RequestRecord) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        try:
            body = (
                json.loads(record.response_body)
                if record.content_type.startswith("application/json")
                else {}
            )
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        image_id = body.get("image_id", "")
        where = printable(f"{record.method} {record.path}")
        if record.status == CLIENT_CLOSED_STATUS:
            log.info("dropped    %s: the client went away before its answer", where)
        elif record.status >= 400:
            error = body.get("error") if isinstance(body.get("error"), dict) else {}
            detail = (
                f"{error.get('code')}: {error.get('message')}" if error else body.get("message", "")
            )
            log.info("refused    %s -> %d %s", where, record.status, printable(str(detail)))
        elif self._is_upload(record.method, record.path):
            size_bytes = body.get("size_bytes")  # the image, without multipart framing
            if not isinstance(size_bytes, int):
                size_bytes = record.request_body_bytes
            log.info(
                "uploaded   %s %s (%s) via %s",
                printable(str(image_id)),
                printable(str(body.get("filename", ""))),
                item_size(size_bytes),
                where,
            )
            if image_id:
                self._uploaded.add(image_id)
        elif record.method == "POST" and record.path == "/uploads":
            log.info("granted    %s presigned S3 upload via %s", printable(str(image_id)), where)
        elif record.method == "DELETE" and image_id:
            # 202 "deleting": the removal event follows; "deleted": nothing left to remove
            status = printable(str(body.get("status", "deleting")))
            log.info("%-10s %s via %s", status, printable(str(image_id)), where)
        elif record.method == "GET" and image_id and body.get("status"):
            with self._lock:
                changed = self._seen_status.get(image_id) != body["status"]
                self._seen_status[image_id] = body["status"]
            if changed:
                status = printable(str(body["status"]))
                log.info("seen       %s %s via %s", printable(str(image_id)), status, where)

    # -- the dispatcher ------------------------------------------------------------------
    def wrap_resize(self, handler: Handler) -> Handler:
        """``handler`` with a ``queued`` line per object before it runs."""

        def resize_with_journey(event: dict[str, Any], context: Any) -> Any:
            if not log.isEnabledFor(logging.INFO):  # --quiet: no lines, no work for them
                return handler(event, context)
            for record in event.get("Records", []):
                receives = record.get("attributes", {}).get("ApproximateReceiveCount", "1")
                for obj in self._changes(record):
                    retry = f" (receive #{receives})" if receives != "1" else ""
                    image_id = self.image_id(obj)
                    if isinstance(obj, ObjectRemoved):
                        what = "expiry of " if obj.lifecycle else "removal of "
                    else:
                        self._wait_for_upload_line(image_id)
                        what = ""
                    where = printable(f"s3://{obj.bucket}/{obj.key}")
                    log.info("queued     %s %s%s%s", image_id, what, where, retry)
            return handler(event, context)

        return resize_with_journey

    def _wait_for_upload_line(self, image_id: str) -> None:
        """Hold a ``queued`` line until ``image_id``'s ``uploaded`` line is out, while any
        ``POST /images`` is in flight (at most ``UPLOAD_LINE_WAIT_S``)."""
        with self._uploads:
            self._uploads.wait_for(
                lambda: image_id in self._uploaded or self._uploads_in_flight == 0,
                timeout=UPLOAD_LINE_WAIT_S,
            )

    def on_batch(self, outcome: BatchOutcome) -> None:
        """After a batch: the outcome per image (from its item), or the retry to come.

        An item finished before the batch started was a duplicate delivery (S3 delivers at
        least once; the handler skips it), and is logged as such. With the journey's INFO
        lines off (``--quiet``) it does nothing (no item lookups).
        """
        if not log.isEnabledFor(logging.INFO):
            return
        batch_started = datetime.now(UTC) - timedelta(seconds=outcome.duration_s + 0.05)
        per_record_ms = outcome.duration_s * 1000 / max(1, len(outcome.records))
        for record in outcome.records:
            changes = self._changes(record)
            if not changes and "s3:TestEvent" in record.get("body", ""):
                log.info("notified   s3:TestEvent (the bucket notification is wired)")
            for obj in changes:
                image_id = self.image_id(obj)
                where = printable(f"s3://{obj.bucket}/{obj.key}")
                removal = isinstance(obj, ObjectRemoved)
                if record["messageId"] in outcome.failed and self._last_receive(record):
                    log.warning(
                        "dead-letter %s %s: failed on receive #%s, the last; the "
                        "message goes to the DLQ %s (python -m deploy.local.dlq list)",
                        image_id,
                        where,
                        _receive_count(record),
                        self.dlq_url or "(the queue's DLQ)",
                    )
                    continue
                if record["messageId"] in outcome.failed:
                    log.info(
                        "retrying   %s %s: %s failed, back on the queue in "
                        "%d s (dead-letter queue after the last receive)",
                        image_id,
                        where,
                        "removal" if removal else "resize",
                        self.visibility_timeout_s,
                    )
                    continue
                if isinstance(obj, ObjectRemoved):
                    self._log_removal(obj, image_id, where, batch_started, per_record_ms)
                    continue
                item = self.item(image_id)
                status = printable(str(item.get("status", "?"))) if item else "done"
                if item and _before(item.get("processed_at"), batch_started):
                    log.info(
                        "duplicate  %s %s already %s at %s; skipped",
                        image_id,
                        where,
                        status,
                        printable(str(item.get("processed_at"))),
                    )
                    continue
                detail = describe_item(item) if item else where
                log.info("%-10s %s %s (%.0f ms)", status, image_id, detail, per_record_ms)

    def _log_removal(
        self,
        removed: ObjectRemoved,
        image_id: str,
        where: str,
        batch_started: datetime,
        per_record_ms: float,
    ) -> None:
        """The outcome line of a handled removal, told from the item as it is now."""
        item = self.item(image_id)
        status = printable(str(item.get("status", "?"))) if item else None
        if item is None:
            log.info(
                "removed    %s %s: no item; its renditions, if any, deleted (%.0f ms)",
                image_id,
                where,
                per_record_ms,
            )
        elif status != "deleted":
            why = (
                "the retention rule keeps an expired original's renditions, or a newer upload"
                if removed.lifecycle
                else "a newer upload or version of the key"
            )
            log.info(
                "kept       %s %s removed; the item stays %s (%s)", image_id, where, status, why
            )
        elif _before(item.get("deleted_at"), batch_started):
            log.info(
                "duplicate  %s %s already deleted at %s; skipped",
                image_id,
                where,
                printable(str(item.get("deleted_at"))),
            )
        else:
            log.info(
                "deleted    %s %s and its renditions (%.0f ms)", image_id, where, per_record_ms
            )

    def _last_receive(self, record: dict[str, Any]) -> bool:
        """The record's receive is its last before SQS moves it to the DLQ."""
        limit = self.max_receive_count
        return limit is not None and _receive_count(record) >= limit

    @staticmethod
    def _changes(record: dict[str, Any]) -> list[Change]:
        """The objects a message names as created or removed; none for a body that cannot be
        parsed (any error: deeply nested JSON raises ``RecursionError``), which is that
        message's alone."""
        try:
            return changes_from_message(record.get("body", ""))
        except Exception:
            return []


def _receive_count(record: dict[str, Any]) -> int:
    """``ApproximateReceiveCount`` of an SQS event record (1 when absent or unreadable)."""
    try:
        return int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
    except (TypeError, ValueError):
        return 1


def _before(stamp: object, moment: datetime) -> bool:
    """``stamp`` (ISO 8601, ``Z`` or offset) is earlier than ``moment``; False if unreadable.

    Compared as the table stores times (``handlers.events.iso_utc``: UTC, milliseconds).
    """
    normalised = iso_utc(stamp)
    return normalised is not None and normalised < format_utc(moment)
