"""List and redrive the resize queue's dead-lettered messages (the local pipeline's, or any).

    python -m deploy.local.dlq list    [--endpoint-url URL] [--dlq-url URL] [--json]
    python -m deploy.local.dlq redrive [--endpoint-url URL] [--dlq-url URL] [--to QUEUE_URL]

The running pipeline prints its dead-letter queue in the ready line (``dlq_url``) and its
endpoint (``endpoint_url``); without ``--dlq-url`` the queue is found by name
(``--queue``, default the runner's ``image-uploads-events``, whose DLQ is ``NAME-dlq``).

- ``list`` shows each message: id, receives, when it was first sent, and the object its S3
  notification names (keys escaped: a key is data, never terminal control). Messages are
  received with a short visibility timeout and made visible again at once, so listing
  leaves them where they are (each listing adds one to their receive count).
- ``redrive`` moves every message back to its source queue (``--to``, else the queue whose
  redrive policy names this DLQ, ``ListDeadLetterSourceQueues``): send, then delete, batch
  by batch, so a message is never lost (at worst sent twice, which the resize function
  skips as a duplicate). The resize function then processes it again with a fresh receive
  count; an item it gave up on (``failed``, ``gave_up``) is an open outcome and gets
  replaced.

Exit status: 0 done, 1 a queue call failed, 2 usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from handlers.events import objects_from_message

DEFAULT_ENDPOINT_URL = "http://127.0.0.1:4566"
DEFAULT_QUEUE = "image-uploads-events"
PEEK_VISIBILITY_S = 20
"""How long a listed message stays hidden before ``list`` makes it visible again."""
RECEIVE_BATCH = 10  # the ReceiveMessage maximum


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One dead-lettered message as ``list`` shows it.

    Attributes:
        message_id: the SQS message id.
        receives: ``ApproximateReceiveCount`` (counting this listing's receive).
        sent_at: when it was first sent, ISO 8601 UTC.
        objects: ``s3://bucket/key`` of each object its notification names, keys escaped;
            empty for a body that is not an S3 notification.
        body_bytes: size of the body in bytes.
    """

    message_id: str
    receives: int
    sent_at: str
    objects: list[str]
    body_bytes: int


def describe(message: dict[str, Any]) -> DeadLetter:
    """A received message (ReceiveMessage shape, with attributes) as a :class:`DeadLetter`."""
    attributes = message.get("Attributes", {})
    body = message.get("Body", "")
    try:
        objects = [f"s3://{o.bucket}/{escaped(o.key)}" for o in objects_from_message(body)]
    except Exception:  # any body: a dead letter may be there because it is malformed
        objects = []
    sent_ms = int(attributes.get("SentTimestamp", "0") or 0)
    return DeadLetter(
        message_id=message["MessageId"],
        receives=int(attributes.get("ApproximateReceiveCount", "0") or 0),
        sent_at=datetime.fromtimestamp(sent_ms / 1000, UTC).isoformat(timespec="seconds"),
        objects=objects,
        body_bytes=len(body.encode("utf-8", errors="replace")),
    )


def escaped(text: str) -> str:
    """``text`` with control, bidi and other non-printable characters as ``\\u....`` escapes."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def peek_all(sqs: Any, dlq_url: str) -> list[dict[str, Any]]:
    """Every message on ``dlq_url``, left on the queue (made visible again when read)."""
    seen: dict[str, dict[str, Any]] = {}
    handles: list[str] = []
    try:
        while True:
            batch = sqs.receive_message(
                QueueUrl=dlq_url,
                MaxNumberOfMessages=RECEIVE_BATCH,
                VisibilityTimeout=PEEK_VISIBILITY_S,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                break
            for message in batch:
                handles.append(message["ReceiptHandle"])
                seen.setdefault(message["MessageId"], message)
    finally:
        for handle in handles:  # on failure: visible again after PEEK_VISIBILITY_S anyway
            with contextlib.suppress(BotoCoreError, ClientError):
                sqs.change_message_visibility(
                    QueueUrl=dlq_url, ReceiptHandle=handle, VisibilityTimeout=0
                )
    return list(seen.values())


def source_queue(sqs: Any, dlq_url: str) -> str:
    """The queue whose redrive policy sends to ``dlq_url``.

    Raises:
        LookupError: none, or more than one (then ``--to`` must say which).
    """
    sources = sqs.list_dead_letter_source_queues(QueueUrl=dlq_url).get("queueUrls", [])
    if len(sources) != 1:
        msg = f"{len(sources)} queues send to {dlq_url}; name the one to redrive to with --to"
        raise LookupError(msg)
    return str(sources[0])


def redrive(sqs: Any, dlq_url: str, target_url: str) -> Iterator[str]:
    """Move every message of ``dlq_url`` to ``target_url``; yields each moved message id.

    Send first, then delete: a failure in between leaves a copy on both queues (the resize
    function skips the second delivery as a duplicate), never none.
    """
    while True:
        batch = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=RECEIVE_BATCH,
            VisibilityTimeout=60,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return
        entries = []
        for n, message in enumerate(batch):
            entry: dict[str, Any] = {"Id": str(n), "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            entries.append(entry)
        sent = sqs.send_message_batch(QueueUrl=target_url, Entries=entries)
        done = {entry["Id"] for entry in sent.get("Successful", [])}
        moved = [m for n, m in enumerate(batch) if str(n) in done]
        if moved:
            sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(moved)
                ],
            )
        for failure in sent.get("Failed", []):
            msg = f"could not send a message back: {failure.get('Code')} {failure.get('Message')}"
            raise RuntimeError(msg)
        yield from (m["MessageId"] for m in moved)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m deploy.local.dlq``."""
    parser = argparse.ArgumentParser(
        prog="python -m deploy.local.dlq",
        description="List or redrive the resize queue's dead-lettered messages.",
    )
    parser.add_argument("command", choices=("list", "redrive"))
    parser.add_argument(
        "--endpoint-url",
        default=DEFAULT_ENDPOINT_URL,
        help="the emulator (the ready line's endpoint_url; default: %(default)s)",
    )
    parser.add_argument("--dlq-url", help="the dead-letter queue (the ready line's dlq_url)")
    parser.add_argument(
        "--queue",
        default=DEFAULT_QUEUE,
        help="without --dlq-url: the queue whose DLQ is NAME-dlq (default: %(default)s)",
    )
    parser.add_argument("--to", metavar="QUEUE_URL", help="redrive: the queue to send back to")
    parser.add_argument(
        "--region", default=None, help="default: $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1"
    )
    parser.add_argument("--json", action="store_true", help="list: one JSON object per line")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; the exit code."""
    args = build_parser().parse_args(argv)
    region = (
        args.region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or "us-east-1"
    )
    session = boto3.session.Session(
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        region_name=region,
    )
    sqs = session.client("sqs", endpoint_url=args.endpoint_url)
    try:
        dlq_url = args.dlq_url or sqs.get_queue_url(QueueName=f"{args.queue}-dlq")["QueueUrl"]
        if args.command == "list":
            letters = [describe(m) for m in peek_all(sqs, dlq_url)]
            print_letters(letters, dlq_url, as_json=args.json)
            return 0
        target = args.to or source_queue(sqs, dlq_url)
        moved = 0
        for _ in redrive(sqs, dlq_url, target):
            moved += 1
        print(f"redrove {moved} message(s) from {dlq_url} to {target}")
        return 0
    except (BotoCoreError, ClientError, LookupError, RuntimeError) as e:
        print(f"dlq {args.command}: {e}", file=sys.stderr)
        return 1


def print_letters(letters: list[DeadLetter], dlq_url: str, *, as_json: bool) -> None:
    """One line per dead letter (or JSON Lines), then a count on stderr."""
    for letter in letters:
        if as_json:
            print(json.dumps(asdict(letter), ensure_ascii=False))
            continue
        what = ", ".join(letter.objects) or f"(not an S3 notification, {letter.body_bytes} B)"
        print(f"{letter.message_id}  {letter.receives:>3} receives  {letter.sent_at}  {what}")
    print(f"{len(letters)} dead-lettered message(s) on {dlq_url}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
