"""The local dead-letter queue: poison messages acknowledged, the DLQ line, list and redrive.

Issue 9: a poison message never fails its batch or reaches the DLQ; a message failing on
its last receive is logged as going to the DLQ; the ready line carries ``dlq_url``;
``python -m deploy.local.dlq list|redrive`` shows and moves dead-lettered messages.
"""

from __future__ import annotations

import io
import json
import logging
import time
import uuid
from typing import Any

import boto3
import pytest
import requests

from deploy.local import dlq
from deploy.local.dispatcher import BatchOutcome
from deploy.local.journey import Journey
from deploy.local.resources import ensure_resources
from tests.e2e.conftest import quadrant_jpeg, wait_until

NESTED_JSON = "[" * 50_000 + "]" * 50_000


def notification(bucket: str, key: str) -> str:
    """An S3 ``ObjectCreated:Put`` notification body naming ``bucket``/``key``."""
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventTime": "2024-05-01T12:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 10, "eTag": "e1"}},
    }
    return json.dumps({"Records": [record]})


@pytest.fixture
def queues(emulator: str) -> Any:
    suffix = uuid.uuid4().hex[:8]
    return ensure_resources(
        uploads_bucket=f"up-{suffix}",
        processed_bucket=f"out-{suffix}",
        table=f"meta-{suffix}",
        queue=f"events-{suffix}",
        region="us-east-1",
        endpoint_url=emulator,
    )


def run_dlq(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = dlq.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_shows_dead_letters_and_leaves_them_then_redrive_moves_them_back(
    emulator: str, queues: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs = boto3.client("sqs", endpoint_url=emulator, region_name="us-east-1")
    sqs.send_message(QueueUrl=queues.dlq_url, MessageBody=notification("up", "a\nprocessed.jpg"))
    sqs.send_message(QueueUrl=queues.dlq_url, MessageBody=NESTED_JSON)
    where = ("--endpoint-url", emulator, "--dlq-url", queues.dlq_url)

    code, out, err = run_dlq(capsys, "list", *where, "--json")

    assert code == 0
    letters = [json.loads(line) for line in out.splitlines()]
    assert sorted(letter["objects"] for letter in letters) == [[], ["s3://up/a\\nprocessed.jpg"]]
    assert "2 dead-lettered message(s)" in err
    code, out, _ = run_dlq(capsys, "list", *where)  # still there: listing leaves them
    assert code == 0 and len(out.splitlines()) == 2
    assert "not an S3 notification" in out and "s3://up/a\\nprocessed.jpg" in out

    code, out, _ = run_dlq(capsys, "redrive", *where)

    assert code == 0 and out.startswith(f"redrove 2 message(s) from {queues.dlq_url} to ")
    assert dlq.peek_all(sqs, queues.dlq_url) == []
    bodies = [m["Body"] for m in dlq.peek_all(sqs, queues.queue_url)]
    assert NESTED_JSON in bodies and notification("up", "a\nprocessed.jpg") in bodies


def test_redrive_finds_the_dlq_by_queue_name(
    emulator: str, queues: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs = boto3.client("sqs", endpoint_url=emulator, region_name="us-east-1")
    sqs.send_message(QueueUrl=queues.dlq_url, MessageBody="lost")
    queue_name = queues.queue_url.rsplit("/", 1)[-1]

    code, out, _ = run_dlq(capsys, "redrive", "--endpoint-url", emulator, "--queue", queue_name)

    assert code == 0 and out.startswith("redrove 1 message(s)")
    assert "lost" in [m["Body"] for m in dlq.peek_all(sqs, queues.queue_url)]


def test_a_failure_on_the_last_receive_is_logged_as_dead_lettered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journey = Journey(
        table="t",
        region="us-east-1",
        endpoint_url="http://127.0.0.1:9",  # never called on this path
        visibility_timeout_s=30,
        max_receive_count=3,
        dlq_url="http://dlq",
    )
    records = [
        {
            "messageId": f"m{n}",
            "body": notification("up", f"photo{n}.jpg"),
            "attributes": {"ApproximateReceiveCount": str(n)},
        }
        for n in (2, 3)
    ]
    outcome = BatchOutcome(records=records, deleted=[], failed=["m2", "m3"], duration_s=0.1)

    with caplog.at_level(logging.INFO, logger="journey"):
        journey.on_batch(outcome)

    lines = [r.getMessage() for r in caplog.records if r.name == "journey"]
    assert lines[0].startswith("retrying ") and "photo2.jpg" in lines[0]
    assert lines[1].startswith("dead-letter ") and "s3://up/photo3.jpg" in lines[1]
    assert "receive #3, the last" in lines[1] and "the DLQ http://dlq" in lines[1]


def test_journey_ignores_a_body_that_cannot_be_parsed() -> None:
    assert Journey._changes({"body": NESTED_JSON}) == []


def test_a_poison_message_in_the_live_pipeline_is_acknowledged(
    pipeline: dict[str, Any], s3: Any, sqs: Any
) -> None:
    assert pipeline["dlq_url"].endswith("/image-uploads-events-dlq")  # the ready line's
    sqs.send_message(QueueUrl=pipeline["queue_url"], MessageBody=NESTED_JSON)
    reply = requests.post(
        f"{pipeline['api_url']}/images",
        files={"file": ("beside-poison.jpg", io.BytesIO(quadrant_jpeg()), "image/jpeg")},
        timeout=30,
    )
    image_id = reply.json()["image_id"]

    def status() -> str | None:
        got = requests.get(f"{pipeline['api_url']}/images/{image_id}", timeout=10).json()
        return got["status"] if got["status"] != "pending" else None

    assert wait_until(status, 60) == "processed"

    def queue_drained() -> bool:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        counts = sqs.get_queue_attributes(QueueUrl=pipeline["queue_url"], AttributeNames=names)
        return all(v == "0" for v in counts["Attributes"].values())

    wait_until(queue_drained, 60, interval_s=0.5)
    time.sleep(0.5)
    dead = [m["Body"] for m in dlq.peek_all(sqs, pipeline["dlq_url"])]
    assert NESTED_JSON not in dead  # acknowledged on its first receive, never retried
