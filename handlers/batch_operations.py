"""S3 Batch Operations' ``LambdaInvoke``: reprocess the objects of a manifest, one result each.

Invocation (schema 2.0; 1.0 is read the same way, its bucket from ``s3BucketArn``)::

    {"invocationSchemaVersion": "2.0", "invocationId": "...",
     "job": {"id": "...", "userArguments": {...}},
     "tasks": [{"taskId": "...", "s3Key": "url%20encoded.jpg", "s3VersionId": null,
                "s3Bucket": "uploads-bucket"}]}

Answer::

    {"invocationSchemaVersion": "2.0", "treatMissingKeysAs": "PermanentFailure",
     "invocationId": "...", "results": [{"taskId", "resultCode", "resultString"}]}

Each task is a reprocess request (:class:`handlers.events.ObjectCreated` with
``reprocess=True``) run through the resize pipeline; result codes
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html):

- ``Succeeded``: processed (``processed <key> <pipeline_version>``), rejected (a rejected
  image is an outcome, not a failure: ``rejected <reason>: <message>``), or skipped
  (``skipped duplicate``: already made by this pipeline version, so a second job does no
  work; ``skipped source_missing``: the object is gone since the manifest was written);
- ``TemporaryFailure``: a dependency is throttling or down (``TransientError``): Batch
  Operations retries the task;
- ``PermanentFailure``: anything else (a bug, access denied), with the error's class.

``resultString`` lands in the job's completion report; it is kept under
:data:`RESULT_MAX_CHARS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from handlers.errors import TransientError
from handlers.events import ObjectCreated, batch_tasks
from handlers.give_up import describe_error
from handlers.pipeline import Outcome

ResultCode = Literal["Succeeded", "TemporaryFailure", "PermanentFailure"]
RESULT_MAX_CHARS = 512


def answer(event: Mapping[str, Any], run: Callable[[ObjectCreated], Outcome]) -> dict[str, Any]:
    """Run each task of ``event`` with ``run`` and answer one result per task.

    Raises:
        handlers.events.EventShapeError: a task lacks its id, key or bucket (the whole
            invocation fails; Batch Operations reports it).
    """
    results = []
    for task in batch_tasks(event):
        code, text = task_result(lambda obj=task.obj: run(obj))  # type: ignore[misc]
        results.append({"taskId": task.task_id, "resultCode": code, "resultString": text})
    return {
        "invocationSchemaVersion": event["invocationSchemaVersion"],
        "treatMissingKeysAs": "PermanentFailure",
        "invocationId": event["invocationId"],
        "results": results,
    }


def task_result(attempt: Callable[[], Outcome]) -> tuple[ResultCode, str]:
    """``(resultCode, resultString)`` of one task run by ``attempt``."""
    try:
        outcome = attempt()
    except TransientError as error:
        return "TemporaryFailure", _short(f"retry later: {describe_error(error)}")
    except Exception as error:
        return "PermanentFailure", _short(f"failed: {type(error).__name__}")
    return "Succeeded", _short(describe_outcome(outcome))


def describe_outcome(outcome: Outcome) -> str:
    """The ``resultString`` of a task that ran: what happened to the object."""
    if outcome.status == "processed":
        return f"processed {outcome.processed_key}"
    if outcome.status == "rejected":
        return f"rejected {outcome.reason}: {outcome.message or ''}".rstrip(": ")
    return f"{outcome.status} {outcome.reason or ''}".strip()


def _short(text: str) -> str:
    return text if len(text) <= RESULT_MAX_CHARS else text[: RESULT_MAX_CHARS - 1] + "…"
