"""A local stand-in for Lambda's SQS event source mapping.

Long-polls a queue, hands each batch to a handler in the event shape Lambda's SQS event
source uses, and settles the batch the way Lambda does with ``ReportBatchItemFailures``:

- the handler returns ``{"batchItemFailures": [{"itemIdentifier": messageId}, ...]}``:
  every other message is deleted, the listed ones are left alone;
- the handler returns nothing, or an empty list: the whole batch is deleted;
- the handler raises, or names an identifier that is not in the batch: nothing is deleted.

Messages left alone reappear after the queue's visibility timeout, and SQS itself moves them
to the dead-letter queue once they have been received ``maxReceiveCount`` times (the queue's
redrive policy, see deploy/local/resources.py). Nothing here retries on its own.

Event shape (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html)::

    {"Records": [{"messageId", "receiptHandle", "body", "attributes": {...},
                  "messageAttributes": {...}, "md5OfBody", "eventSource": "aws:sqs",
                  "eventSourceARN", "awsRegion"}, ...]}

Threads: ``start(workers)`` runs that many pollers, each invoking the handler in its own
thread. The project's handlers log through one Powertools logger whose per-record keys
(``append_keys``: ``image_id``, ``key``) are process-wide, so with several workers a log
line can carry another record's keys. ``deploy.local`` therefore wraps both functions in
``deploy.local.lambda_context.one_at_a_time`` (no throughput cost measured); standalone, use
``--workers 1`` (the default) or run several processes when log keys matter.

Standalone: ``python -m deploy.local.dispatcher --queue-url URL`` (the handler defaults to
``handlers.resize.handler``; the environment configures it and the AWS endpoint).
"""

from __future__ import annotations

import base64
import logging
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from deploy.local import standalone
from deploy.local.cli_args import int_range
from deploy.local.lambda_context import Handler, lambda_context

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 10  # Lambda's default for SQS, also the ReceiveMessage maximum
DEFAULT_WAIT_TIME_S = 20  # the ReceiveMessage maximum
DEFAULT_TIMEOUT_S = 60  # the "function timeout" the context counts down from
ERROR_BACKOFF_S = 1.0
DEFAULT_HANDLER = "handlers.resize.handler"


def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """One SQS API message attribute in the Lambda event's camelCase shape."""
    binary = value.get("BinaryValue")
    out: dict[str, Any] = {
        "stringValue": value.get("StringValue"),
        "binaryValue": base64.b64encode(binary).decode("ascii") if binary is not None else None,
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [
            base64.b64encode(b).decode("ascii") for b in value.get("BinaryListValues", [])
        ],
        "dataType": value["DataType"],
    }
    return {k: v for k, v in out.items() if v is not None}


def sqs_record(message: Mapping[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    """Turn one ReceiveMessage message into the record Lambda's SQS event source sends."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _message_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def failed_ids(response: Any, message_ids: list[str]) -> set[str]:
    """Message ids to leave on the queue, read as Lambda reads a ReportBatchItemFailures reply.

    ``None``, ``{}`` or an empty list mean all succeeded; an identifier that is missing,
    empty or not in the batch fails the whole batch.
    """
    if not isinstance(response, dict) or not response.get("batchItemFailures"):
        return set()
    failed: set[str] = set()
    for item in response["batchItemFailures"]:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier or identifier not in message_ids:
            return set(message_ids)
        failed.add(identifier)
    return failed


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What one poll did: records handed over, deleted and left for redelivery."""

    records: list[dict[str, Any]]
    deleted: list[str]
    failed: list[str]
    duration_s: float
    error: BaseException | None = None


class SqsDispatcher:
    """Polls ``queue_url`` and invokes ``handler(event, context)`` per batch.

    Args:
        queue_url: the queue to poll.
        handler: a Lambda handler taking the SQS event (default ``handlers.resize.handler``).
        sqs: a boto3 SQS client (default: a new one; ``AWS_ENDPOINT_URL`` applies).
        batch_size: ReceiveMessage ``MaxNumberOfMessages`` (1-10).
        wait_time_s: ReceiveMessage ``WaitTimeSeconds`` (long poll, 0-20). A stop does not
            wait for it: an idle poller is left to end with its poll (a daemon thread that
            invokes nothing once stopped); only a batch in flight is waited for.
        function_name, timeout_s: what the Lambda context reports.
        on_batch: called after each non-empty batch with its :class:`BatchOutcome`
            (for logging an image's journey); exceptions in it are logged and ignored.
    """

    def __init__(
        self,
        queue_url: str,
        handler: Handler,
        *,
        sqs: Any = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        wait_time_s: int = DEFAULT_WAIT_TIME_S,
        function_name: str = "resize",
        timeout_s: float = DEFAULT_TIMEOUT_S,
        on_batch: Callable[[BatchOutcome], None] | None = None,
    ) -> None:
        if not 1 <= batch_size <= 10:
            msg = f"batch_size must be 1-10 (the ReceiveMessage limit), got {batch_size}"
            raise ValueError(msg)
        self.queue_url = queue_url
        self.handler = handler
        self.sqs = sqs or boto3.client(
            "sqs",
            config=Config(
                retries={"max_attempts": 3, "mode": "standard"}, read_timeout=wait_time_s + 10
            ),
        )
        self.batch_size = batch_size
        self.wait_time_s = wait_time_s
        self.function_name = function_name
        self.timeout_s = timeout_s
        self.on_batch = on_batch
        attributes = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]
        self.queue_arn: str = attributes["QueueArn"]
        self.region: str = self.queue_arn.split(":")[3]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._invoking = threading.Condition()  # guards the count below and the stop flag
        self._batches_in_flight = 0

    def poll_once(self) -> BatchOutcome | None:
        """Receive one batch (waiting up to ``wait_time_s``), invoke, settle.

        Returns ``None`` when the queue stayed empty, or when :meth:`stop` came during the
        poll (the messages are left alone: they reappear after the visibility timeout).
        """
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_time_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return None
        with self._invoking:
            if self._stop.is_set():
                return None
            self._batches_in_flight += 1
        try:
            return self.invoke(messages)
        finally:
            with self._invoking:
                self._batches_in_flight -= 1
                self._invoking.notify_all()

    def invoke(self, messages: Sequence[Mapping[str, Any]]) -> BatchOutcome:
        """Hand ``messages`` (ReceiveMessage shape) to the handler and settle them."""
        records = [sqs_record(m, queue_arn=self.queue_arn, region=self.region) for m in messages]
        ids = [r["messageId"] for r in records]
        context = lambda_context(self.function_name, self.region, self.timeout_s)
        started = time.monotonic()
        error: BaseException | None = None
        try:
            response = self.handler({"Records": records}, context)
            failed = failed_ids(response, ids)
        except Exception as e:  # a crashed invocation: Lambda retries the whole batch
            log.exception(
                "%s raised on a batch of %d; all left for redelivery",
                self.function_name,
                len(records),
            )
            error, failed = e, set(ids)
        duration_s = time.monotonic() - started
        done = [r for r in records if r["messageId"] not in failed]
        self._delete(done)
        outcome = BatchOutcome(
            records=records,
            deleted=[r["messageId"] for r in done],
            failed=[i for i in ids if i in failed],
            duration_s=duration_s,
            error=error,
        )
        if self.on_batch is not None:
            try:
                self.on_batch(outcome)
            except Exception:
                log.exception("on_batch callback failed")
        return outcome

    def _delete(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        response = self.sqs.delete_message_batch(
            QueueUrl=self.queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(records)
            ],
        )
        for failure in response.get("Failed", []):
            log.warning(
                "could not delete message %s: %s", failure.get("Id"), failure.get("Message")
            )

    def run(self) -> None:
        """Poll until :meth:`stop`; errors talking to SQS are logged and retried."""
        while not self._stop.is_set():
            try:
                self.poll_once()
            except (BotoCoreError, ClientError) as e:
                if self._stop.is_set():
                    break
                log.warning("polling %s failed: %s", self.queue_url, e)
                self._stop.wait(ERROR_BACKOFF_S)

    def start(self, workers: int = 1) -> None:
        """Run ``workers`` pollers in daemon threads (concurrent invocations, as Lambda's)."""
        self._stop.clear()
        for n in range(workers):
            thread = threading.Thread(target=self.run, name=f"dispatcher-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop the pollers: wait for the batches being handled (at most ``timeout_s``,
        default the function timeout), not for idle long polls.

        After it returns no batch is handed to the handler any more; pollers still in a long
        poll end with it (daemon threads, at most ``wait_time_s`` later).
        """
        limit = self.timeout_s if timeout_s is None else timeout_s
        with self._invoking:
            self._stop.set()
            self._invoking.wait_for(lambda: self._batches_in_flight == 0, timeout=limit)
        self._threads = [t for t in self._threads if t.is_alive()]


def main(argv: list[str] | None = None) -> int:
    """CLI: poll a queue and invoke a handler until Ctrl-C or SIGTERM. Returns the exit code."""
    parser = standalone.service_parser(
        "deploy.local.dispatcher",
        "Poll an SQS queue and invoke a Lambda handler as the SQS event source does.",
        DEFAULT_HANDLER,
    )
    parser.add_argument("--queue-url", required=True, help="the queue to poll")
    parser.add_argument(
        "--batch-size",
        type=int_range(1, 10),
        default=DEFAULT_BATCH_SIZE,
        help="messages per invocation, 1-10 (default: %(default)s)",
    )
    parser.add_argument(
        "--wait-time",
        type=int_range(0, 20),
        default=DEFAULT_WAIT_TIME_S,
        help="long-poll seconds, 0-20 (default: %(default)s)",
    )
    parser.add_argument(
        "--workers", type=int_range(1), default=1, help="concurrent pollers (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    if args.handler == DEFAULT_HANDLER:  # its settings checked now, not at the first message
        standalone.check_settings(parser, "resize")
    standalone.configure_logging()

    def log_batch(outcome: BatchOutcome) -> None:
        log.info(
            "batch of %d: %d done, %d left for redelivery (%.0f ms)",
            len(outcome.records),
            len(outcome.deleted),
            len(outcome.failed),
            outcome.duration_s * 1000,
        )

    dispatcher = SqsDispatcher(
        args.queue_url,
        standalone.load_handler(args.handler),
        batch_size=args.batch_size,
        wait_time_s=args.wait_time,
        on_batch=log_batch,
    )

    def start() -> None:
        dispatcher.start(args.workers)
        log.info("polling %s with %d worker(s); Ctrl-C to stop", args.queue_url, args.workers)

    return standalone.run_until_signalled(start, dispatcher.stop)


if __name__ == "__main__":
    sys.exit(main())
