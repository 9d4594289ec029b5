"""Lambda's SQS event source mapping, invoking a function through the Runtime API.

Built on :class:`deploy.local.dispatcher.SqsDispatcher` (the event shape, and the
``ReportBatchItemFailures`` settlement: only the messages not named in
``batchItemFailures`` are deleted; a function error or timeout deletes nothing; what is
left reappears after the queue's visibility timeout and goes to the DLQ by the queue's
redrive policy). What this adds, as Lambda's mapping does
(https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html):

- a **batching window**: after the first message, keep receiving for up to
  ``batch_window_s`` seconds until ``batch_size`` messages are gathered
  (``MaximumBatchingWindowInSeconds``; 0 = invoke with what one receive returned);
- **concurrency = the function's instances**: one poller per instance, so every batch
  goes straight to a free instance.

A message received again during the window (its visibility timeout is shorter than the
window, against AWS's advice) stays in the batch once, with its newest receipt handle.

Batch size is 1-10 here (one ``ReceiveMessage``); Lambda allows up to 10,000 with a window.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from deploy.local.dispatcher import DEFAULT_WAIT_TIME_S, BatchOutcome, SqsDispatcher
from deploy.local.lambda_service.function import LambdaFunction

log = logging.getLogger(__name__)

MAX_BATCH_WINDOW_S = 300  # Lambda's MaximumBatchingWindowInSeconds limit
RETRY_START_S = 1.0


def resolve_queue_url(sqs: Any, queue: str) -> str:
    """``queue`` as a URL: a URL is kept, a name is looked up (``GetQueueUrl``)."""
    if queue.startswith(("http://", "https://")):
        return queue
    return str(sqs.get_queue_url(QueueName=queue)["QueueUrl"])


class SqsEventSourceMapping(SqsDispatcher):
    """Polls ``queue_url`` and invokes ``function`` with Lambda's SQS event.

    Args:
        queue_url: the queue to poll.
        function: a started :class:`LambdaFunction`; its instance count is the concurrency.
        batch_size: records per invocation, 1-10.
        batch_window_s: seconds to keep gathering a batch after its first message, 0-300.
        wait_time_s: ReceiveMessage long poll (0-20).
        sqs, on_batch: as :class:`~deploy.local.dispatcher.SqsDispatcher`.
    """

    def __init__(
        self,
        queue_url: str,
        function: LambdaFunction,
        *,
        batch_size: int = 10,
        batch_window_s: float = 0.0,
        wait_time_s: int = DEFAULT_WAIT_TIME_S,
        sqs: Any = None,
        on_batch: Callable[[BatchOutcome], None] | None = None,
    ) -> None:
        if not 0 <= batch_window_s <= MAX_BATCH_WINDOW_S:
            msg = f"batch_window_s must be 0-{MAX_BATCH_WINDOW_S}, got {batch_window_s}"
            raise ValueError(msg)
        self.function = function
        self.batch_window_s = batch_window_s
        super().__init__(
            queue_url,
            self._invoke_function,
            sqs=sqs,
            batch_size=batch_size,
            wait_time_s=wait_time_s,
            function_name=function.name,
            timeout_s=function.config.timeout_s,
            on_batch=on_batch,
        )

    def _invoke_function(self, event: dict[str, Any], _context: Any) -> Any:
        return self.function.call(event)  # FunctionError: the whole batch stays

    def _receive(self, count: int, wait_s: int) -> list[dict[str, Any]]:
        return list(
            self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=wait_s,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
        )

    def poll_once(self) -> BatchOutcome | None:
        """Receive a batch (long poll, then the batching window), invoke, settle."""
        messages = self._receive(self.batch_size, self.wait_time_s)
        if not messages:
            return None
        window_ends = time.monotonic() + self.batch_window_s
        while len(messages) < self.batch_size:
            left_s = window_ends - time.monotonic()
            if left_s <= 0:
                break
            wait_s = min(20, max(1, math.floor(left_s)))
            messages = merge_received(
                messages, self._receive(self.batch_size - len(messages), wait_s)
            )
        return self.invoke(messages)

    def start(self, workers: int | None = None) -> None:
        """One poller per function instance (or ``workers``)."""
        super().start(workers or self.function.config.instances)


def merge_received(batch: list[dict[str, Any]], more: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``batch`` then ``more`` (ReceiveMessage messages), one per ``MessageId``: a message
    received again keeps its place and takes the newer copy (receipt handle, receive count)."""
    merged = list(batch)
    where = {m["MessageId"]: n for n, m in enumerate(merged)}
    for message in more:
        n = where.setdefault(message["MessageId"], len(merged))
        if n == len(merged):
            merged.append(message)
        else:
            merged[n] = message
    return merged


def start_mapping_when_ready(
    make: Callable[[], SqsEventSourceMapping],
    stop: threading.Event,
    on_started: Callable[[SqsEventSourceMapping], None],
) -> threading.Thread:
    """Build and start a mapping in a thread, retrying (1 s doubling to 30 s) while the
    queue or the endpoint is not there yet (compose starts services in any order)."""

    def run() -> None:
        delay = RETRY_START_S
        while not stop.is_set():
            try:
                mapping = make()
            except (BotoCoreError, ClientError) as e:
                log.warning("SQS mapping not started yet (%s); retrying in %.0f s", e, delay)
                if stop.wait(delay):
                    return
                delay = min(30.0, delay * 2)
                continue
            mapping.start()
            on_started(mapping)
            if stop.is_set():  # stopped while starting
                mapping.stop(timeout_s=0.5)
            return

    thread = threading.Thread(target=run, name="sqs-mapping-start", daemon=True)
    thread.start()
    return thread
