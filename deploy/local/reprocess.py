"""``python -m deploy.local.reprocess``: bring a local pipeline's images up to date via its queue.

    python -m deploy.local.reprocess --all [--endpoint-url URL] [--rate 50]
    python -m deploy.local.reprocess --older [--max-dim 300]   # or --older-than VERSION
    python -m deploy.local.reprocess --rejected too_large
    python -m deploy.local.reprocess --prefix photos/

The same selections as ``python -m deploy.aws reprocess`` (:mod:`deploy.reprocess_targets`),
fed at a controlled rate (``--rate`` messages a second) into the pipeline's resize queue,
one S3 Batch Operations-shaped request per object (the resize function answers those as
it answers a Batch Operations job, :mod:`handlers.batch_operations`). A progress bar
follows the queue until it is drained; then a summary counts the selected items by
status, and how many were redone or were up to date already (a second run redoes none:
an item made by the running pipeline version is a duplicate).

Against the embedded runner (``python -m deploy.local``) or docker compose: the settings
are those the running resize function has. The embedded runner keeps everything in
memory, so changing its ``--max-dim`` means a restart with nothing stored; with docker
compose, restart the worker with a new ``MAX_DIMENSION`` (LocalStack keeps the objects),
then run ``--older --max-dim N``. ``--older`` compares with the version this checkout
makes at ``--max-dim`` (:func:`deploy.aws.reprocess.current_version`).

Exit status: 0 every selected image ended processed or rejected, 1 otherwise, 2 usage.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import boto3
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from deploy.local.dlq import DEFAULT_ENDPOINT_URL, DEFAULT_QUEUE
from deploy.reprocess_targets import (
    Selection,
    Target,
    add_selection_arguments,
    invocation_body,
    select_targets,
    selection_from,
)
from handlers.dynamo_store import from_dynamo
from handlers.events import format_utc
from handlers.keys import direct_image_id

DEFAULT_RATE = 50.0  # messages a second
SEND_BATCH = 10  # SendMessageBatch maximum
POLL_S = 0.5


@dataclass
class Summary:
    """What a reprocess did: targets sent, seconds taken, items by status, redone or not."""

    sent: int = 0
    elapsed_s: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    redone: int = 0
    unchanged: int = 0
    missing: int = 0

    @property
    def rate(self) -> float:
        """Images a second, over the whole run."""
        return self.sent / self.elapsed_s if self.elapsed_s else 0.0

    def lines(self) -> list[str]:
        """For a person."""
        by_status = ", ".join(f"{n} {status}" for status, n in sorted(self.statuses.items()))
        return [
            f"{self.sent} image(s) reprocessed in {self.elapsed_s:.1f} s "
            f"({self.rate:.1f} images/s)",
            f"  {self.redone} redone, {self.unchanged} up to date already"
            + (f", {self.missing} without an item" if self.missing else ""),
            f"  now: {by_status or 'nothing'}",
        ]


def feed(
    targets: Iterable[Target],
    *,
    sqs: Any,
    queue_url: str,
    rate_per_s: float,
    on_sent: Callable[[int], None] = lambda _n: None,
) -> list[Target]:
    """Send a reprocess request per target, at most ``rate_per_s`` a second; the targets sent.

    Raises:
        RuntimeError: SQS refused part of a batch.
    """
    run_id = uuid.uuid4().hex
    sent: list[Target] = []
    batch: list[Target] = []
    started = time.monotonic()

    def flush() -> None:
        entries = [
            {
                "Id": str(n),
                "MessageBody": invocation_body(t, invocation_id=run_id, task_id=f"{len(sent) + n}"),
            }
            for n, t in enumerate(batch)
        ]
        answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        if answer.get("Failed"):
            msg = f"SQS refused {len(answer['Failed'])} reprocess request(s): {answer['Failed'][0]}"
            raise RuntimeError(msg)
        sent.extend(batch)
        on_sent(len(batch))
        batch.clear()
        due = started + len(sent) / rate_per_s  # keep to the rate
        time.sleep(max(0.0, due - time.monotonic()))

    for target in targets:
        batch.append(target)
        if len(batch) == SEND_BATCH:
            flush()
    if batch:
        flush()
    return sent


def in_flight(sqs: Any, queue_url: str) -> int:
    """Messages on the queue, visible or being processed."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    counts = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    return sum(int(counts.get(name, "0")) for name in names)


def wait_drained(
    sqs: Any,
    queue_url: str,
    *,
    timeout_s: float,
    on_progress: Callable[[int], None] = lambda _n: None,
) -> bool:
    """Wait until the queue is empty (``on_progress(left)`` as it drains); False on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = in_flight(sqs, queue_url)
        on_progress(left)
        if left == 0:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)


def summarize(
    targets: Iterable[Target], *, dynamodb: Any, table: str, since: str, summary: Summary
) -> Summary:
    """Count the targets' items by status; redone = updated at or after ``since`` (ISO UTC)."""
    for target in targets:
        raw = dynamodb.get_item(
            TableName=table,
            Key={"image_id": {"S": _item_id(dynamodb, table, target)}},
            ConsistentRead=True,
        ).get("Item")
        if raw is None:
            summary.missing += 1
            continue
        item = from_dynamo(raw)
        summary.statuses[str(item.get("status"))] += 1
        if str(item.get("updated_at", "")) >= since:
            summary.redone += 1
        else:
            summary.unchanged += 1
    return summary


def _item_id(dynamodb: Any, table: str, target: Target) -> str:
    """The item id of ``target``: the API upload's (``uploads/<id>/...`` with its item),
    else the direct upload's."""
    parts = target.key.split("/")
    if len(parts) > 2 and len(parts[1]) == 32:
        found = dynamodb.get_item(TableName=table, Key={"image_id": {"S": parts[1]}}).get("Item")
        if found and from_dynamo(found).get("source_key") == target.key:
            return parts[1]
    return direct_image_id(target.bucket, target.key)


def run_reprocess(
    selection: Selection,
    *,
    sqs: Any,
    s3: Any,
    dynamodb: Any,
    queue_url: str,
    uploads_bucket: str,
    table: str,
    rate_per_s: float = DEFAULT_RATE,
    timeout_s: float = 600.0,
    console: Console | None = None,
) -> Summary:
    """Select, feed the queue with a progress bar, wait for it to drain, summarize."""
    console = console or Console(stderr=True)
    since = format_utc_now()
    started = time.monotonic()
    targets = list(
        select_targets(
            selection, s3=s3, dynamodb=dynamodb, uploads_bucket=uploads_bucket, table=table
        )
    )
    console.print(f"{len(targets)} selected: {selection.describe()}", highlight=False)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=False) as progress:
        bar = progress.add_task("reprocessing", total=len(targets))
        sent_count = [0]

        def on_sent(n: int) -> None:
            sent_count[0] += n

        def on_progress(left: int) -> None:
            progress.update(bar, completed=max(0, sent_count[0] - left))

        sent = feed(targets, sqs=sqs, queue_url=queue_url, rate_per_s=rate_per_s, on_sent=on_sent)
        drained = wait_drained(sqs, queue_url, timeout_s=timeout_s, on_progress=on_progress)
    summary = Summary(sent=len(sent), elapsed_s=time.monotonic() - started)
    if not drained:
        console.print(f"the queue did not drain within {timeout_s:.0f} s", style="red")
    return summarize(sent, dynamodb=dynamodb, table=table, since=since, summary=summary)


def format_utc_now() -> str:
    """Now, as items store times."""
    from datetime import UTC, datetime

    return format_utc(datetime.now(UTC))


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m deploy.local.reprocess``."""
    parser = argparse.ArgumentParser(
        prog="python -m deploy.local.reprocess",
        description="Reprocess a local pipeline's images through its queue.",
    )
    add_selection_arguments(parser)
    parser.add_argument("--max-dim", type=int, default=500, help="--older: the running max dim")
    parser.add_argument("--endpoint-url", default=DEFAULT_ENDPOINT_URL)
    parser.add_argument("--queue", default=DEFAULT_QUEUE)
    parser.add_argument("--uploads-bucket", default="image-uploads")
    parser.add_argument("--table", default="image-metadata")
    parser.add_argument("--region", default=None)
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE, help="messages a second")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; 0 all processed or rejected, 1 otherwise."""
    from deploy.aws.reprocess import current_version

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        selection_from(args, version=lambda: "")  # checked before any call
    except ValueError as e:
        parser.error(str(e))
    region = args.region or os.environ.get("AWS_REGION") or "us-east-1"
    session = boto3.session.Session(
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        region_name=region,
    )

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=args.endpoint_url)  # type: ignore[call-overload]

    sqs = client("sqs")
    console = Console(stderr=True)
    try:
        summary = run_reprocess(
            selection_from(args, version=lambda: current_version(args.max_dim)),
            sqs=sqs,
            s3=client("s3"),
            dynamodb=client("dynamodb"),
            queue_url=sqs.get_queue_url(QueueName=args.queue)["QueueUrl"],
            uploads_bucket=args.uploads_bucket,
            table=args.table,
            rate_per_s=args.rate,
            timeout_s=args.timeout,
            console=console,
        )
    except Exception as e:  # botocore errors: no pipeline at that endpoint
        console.print(f"reprocess failed: {type(e).__name__}: {e}", style="red", highlight=False)
        return 1
    for line in summary.lines():
        console.print(line, highlight=False)
    finished = summary.statuses["processed"] + summary.statuses["rejected"]
    return 0 if finished == summary.sent else 1


if __name__ == "__main__":
    sys.exit(main())
