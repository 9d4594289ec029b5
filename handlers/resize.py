"""Lambda entry point of the resize function.

Deliveries: S3 notification (direct), SQS messages holding S3 notifications (the
deployed shape: S3 -> SQS -> Lambda with ``ReportBatchItemFailures``), EventBridge
"Object Created".

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

from collections.abc import Mapping
from typing import Any

from handlers import bootstrap
from handlers.bootstrap import Deps
from handlers.config import ResizeSettings
from handlers.events import (
    ObjectCreated,
    QueueMessage,
    event_kind,
    objects_from_event,
    objects_from_message,
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
    if event_kind(event) == "sqs":
        return _handle_batch(event, deps)
    outcomes: list[dict[str, Any]] = []
    first_error: Exception | None = None
    for obj in objects_from_event(event):
        try:
            outcomes.append(_summary(obj, process_one(obj, deps)))
        except Exception as error:
            first_error = first_error or error
    if first_error is not None:
        raise first_error
    return {"outcomes": outcomes}


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
        objects = objects_from_message(message.body)
    except Exception as error:  # EventShapeError, RecursionError...: never fails the batch
        logger.error(
            "malformed message acknowledged without processing; it can never succeed",
            extra={"message_id": message.message_id, "error": f"{type(error).__name__}: {error}"},
        )
        metrics.add_metric(name="MalformedMessages", unit=MetricUnit.Count, value=1)
        return True
    last_receive = message.receive_count >= deps.settings.max_receive_count
    done = True
    for obj in objects:
        try:
            process_one(obj, deps)
        except Exception as error:
            done = False
            if not last_receive:
                logger.exception("message failed; reported for redelivery")
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
    logger.append_keys(bucket=obj.bucket, key=obj.key)
    try:
        outcome = resize_object(
            obj, settings=deps.settings, objects=deps.objects, metadata=deps.metadata
        )
        _observe(obj, outcome)
    except Exception as error:
        metrics.add_metric(name="ImagesFailed", unit=MetricUnit.Count, value=1)
        logger.warning("resize failed", extra={"error": f"{type(error).__name__}: {error}"})
        raise
    finally:
        logger.remove_keys(["bucket", "key", "image_id"])
    return outcome


def _observe(obj: ObjectCreated, outcome: Outcome) -> None:
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
    else:
        metrics.add_metric(name="ImagesSkipped", unit=MetricUnit.Count, value=1)
        logger.info("object skipped", extra=extra)


def _summary(obj: ObjectCreated, outcome: Outcome) -> dict[str, Any]:
    return {
        "bucket": obj.bucket,
        "key": obj.key,
        "status": outcome.status,
        "image_id": outcome.image_id,
        "reason": outcome.reason,
        "processed_key": outcome.processed_key,
    }
