"""Lambda entry point of the resize function.

Deliveries: S3 notification (direct), SQS messages holding S3 notifications (the
deployed shape: S3 -> SQS -> Lambda with ``ReportBatchItemFailures``), EventBridge
"Object Created" / "Object Deleted", and S3 Batch Operations invocations
(:mod:`handlers.batch_operations`: reprocess a manifest, one result code per task).
Created objects are resized (:mod:`handlers.pipeline`); removed ones
(``ObjectRemoved:*``, ``LifecycleExpiration:*``) take their renditions with them
(:mod:`handlers.deletion`).

- SQS: the answer is ``{"batchItemFailures": [{"itemIdentifier": message_id}, ...]}``
  naming only the messages that hit a transient or unexpected error, so only those are
  redelivered (and reach the DLQ after ``maxReceiveCount``). A message that cannot be
  parsed (body not JSON, JSON nested too deeply to parse, not an S3 notification, or
  anything else its parsing raises) can never succeed and is that message's problem
  alone: it is logged at ERROR with its message id, counted as ``MalformedMessages`` and
  acknowledged (not reported), so it neither cycles through retries into the DLQ nor
  fails its batch-mates. On the last receive (``ApproximateReceiveCount`` >=
  ``MAX_RECEIVE_COUNT``) a failing object is given up on (:mod:`handlers.give_up`: item
  ``failed``/``gave_up``, renditions removed, ``ImagesGivenUp``) and its message is still
  reported, so SQS moves it to the DLQ for a later redrive.
- Other shapes: every record is tried; then the first exception of any kind (transient
  or unexpected; rejections are outcomes, not exceptions) is raised, so Lambda retries
  the event (records already done are skipped as duplicates). An event of an unknown
  shape raises ``EventShapeError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from handlers import batch_operations, bootstrap
from handlers.bootstrap import Deps
from handlers.config import ResizeSettings
from handlers.deletion import remove_source
from handlers.events import (
    Change,
    ObjectCreated,
    ObjectRemoved,
    QueueMessage,
    changes_from_event,
    changes_from_message,
    event_kind,
    sqs_messages,
)
from handlers.give_up import give_up
from handlers.observability import MetricUnit, flush_metrics, logger, metrics
from handlers.pipeline import Outcome, resize_object


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Resize every object the event announces; see the module docstring for the answer."""
    logger.append_keys(request_id=getattr(context, "aws_request_id", None))
    try:
        return handle(event, bootstrap.get_deps("resize"))
    finally:
        flush_metrics()


def handle(event: Mapping[str, Any], deps: Deps[ResizeSettings]) -> dict[str, Any]:
    """:func:`handler` with explicit dependencies."""
    kind = event_kind(event)
    if kind == "sqs":
        return _handle_batch(event, deps)
    if kind == "batch":
        return batch_operations.answer(event, lambda obj: process_one(obj, deps))
    outcomes: list[dict[str, Any]] = []
    first_error: Exception | None = None
    for change in changes_from_event(event):
        try:
            outcomes.append(_summary(change, apply(change, deps)))
        except Exception as error:
            first_error = first_error or error
    if first_error is not None:
        raise first_error
    return {"outcomes": outcomes}


def apply(change: Change, deps: Deps[ResizeSettings]) -> Outcome:
    """Resize a created object (:func:`process_one`) or remove a removed one's renditions
    (:func:`remove_one`)."""
    if isinstance(change, ObjectRemoved):
        return remove_one(change, deps)
    return process_one(change, deps)


def _handle_batch(event: Mapping[str, Any], deps: Deps[ResizeSettings]) -> dict[str, Any]:
    failures: list[dict[str, str]] = []
    for message in sqs_messages(event):
        logger.append_keys(message_id=message.message_id)
        try:
            if not _handle_message(message, deps):
                failures.append({"itemIdentifier": message.message_id})
        finally:
            logger.remove_keys(["message_id"])
    return {"batchItemFailures": failures}


def _handle_message(message: QueueMessage, deps: Deps[ResizeSettings]) -> bool:
    """Process one message's objects; True when it is done (delete it), False to retry."""
    try:
        changes = changes_from_message(message.body)
    except Exception as error:  # EventShapeError, RecursionError...: never fails the batch
        logger.error(
            "malformed message acknowledged without processing; it can never succeed",
            extra={"message_id": message.message_id, "error": f"{type(error).__name__}: {error}"},
        )
        metrics.add_metric(name="MalformedMessages", unit=MetricUnit.Count, value=1)
        return True
    last_receive = message.receive_count >= deps.settings.max_receive_count
    done = True
    for obj in changes:
        try:
            apply(obj, deps)
        except Exception as error:
            done = False
            if not last_receive:
                logger.exception("message failed; reported for redelivery")
                continue
            if isinstance(obj, ObjectRemoved):
                logger.error(
                    "gave up removing the renditions of a deleted source; the message goes "
                    "to the dead-letter queue (redrive it to finish)",
                    extra={"bucket": obj.bucket, "key": obj.key},
                )
                continue
            logger.append_keys(bucket=obj.bucket, key=obj.key)
            try:
                give_up(
                    obj,
                    error,
                    attempts=message.receive_count,
                    settings=deps.settings,
                    objects=deps.objects,
                    metadata=deps.metadata,
                )
            except Exception:
                logger.exception("could not record giving up; the message goes to the DLQ")
            finally:
                logger.remove_keys(["bucket", "key", "image_id"])
    return done


def process_one(obj: ObjectCreated, deps: Deps[ResizeSettings]) -> Outcome:
    """Resize one object with logging and metrics around :func:`resize_object`.

    Raises whatever ``resize_object`` raises (transient or unexpected errors), after
    counting ``ImagesFailed``.
    """
    return _observed(obj, lambda: resize_object(obj, **_stores(deps)), "ImagesFailed", "resize")


def remove_one(removed: ObjectRemoved, deps: Deps[ResizeSettings]) -> Outcome:
    """Remove a removed source's renditions (:func:`handlers.deletion.remove_source`) with
    logging and metrics; raises what it raises, after counting ``RemovalsFailed``."""
    return _observed(
        removed, lambda: remove_source(removed, **_stores(deps)), "RemovalsFailed", "removal"
    )


def _stores(deps: Deps[ResizeSettings]) -> dict[str, Any]:
    return {"settings": deps.settings, "objects": deps.objects, "metadata": deps.metadata}


def _observed(
    change: Change, work: Callable[[], Outcome], failure_metric: str, what: str
) -> Outcome:
    """Run ``work`` for ``change`` with its log keys, and observe its outcome or failure."""
    logger.append_keys(bucket=change.bucket, key=change.key)
    try:
        outcome = work()
        _observe(change, outcome)
    except Exception as error:
        metrics.add_metric(name=failure_metric, unit=MetricUnit.Count, value=1)
        logger.warning(f"{what} failed", extra={"error": f"{type(error).__name__}: {error}"})
        raise
    finally:
        logger.remove_keys(["bucket", "key", "image_id"])
    return outcome


def _observe(obj: Change, outcome: Outcome) -> None:
    extra = {
        "status": outcome.status,
        "reason": outcome.reason,
        "processed_key": outcome.processed_key,
        "duration_ms": outcome.duration_ms,
    }
    if outcome.status == "processed":
        metrics.add_metric(name="ImagesProcessed", unit=MetricUnit.Count, value=1)
        metrics.add_metric(
            name="ProcessingTime", unit=MetricUnit.Milliseconds, value=outcome.duration_ms
        )
        metrics.add_metric(name="BytesIn", unit=MetricUnit.Bytes, value=outcome.bytes_in)
        metrics.add_metric(name="BytesOut", unit=MetricUnit.Bytes, value=outcome.bytes_out)
        logger.info("image processed", extra=extra)
    elif outcome.status == "rejected":
        metrics.add_metric(name="ImagesRejected", unit=MetricUnit.Count, value=1)
        logger.info("image rejected", extra=extra)
    elif outcome.status == "deleted":
        metrics.add_metric(name="ImagesDeleted", unit=MetricUnit.Count, value=1)
        logger.info("source removed: its renditions are deleted", extra=extra)
    else:
        metrics.add_metric(name="ImagesSkipped", unit=MetricUnit.Count, value=1)
        logger.info("object skipped", extra=extra)


def _summary(obj: Change, outcome: Outcome) -> dict[str, Any]:
    return {
        "bucket": obj.bucket,
        "key": obj.key,
        "status": outcome.status,
        "image_id": outcome.image_id,
        "reason": outcome.reason,
        "processed_key": outcome.processed_key,
    }
