"""The dispatcher against the emulator, with stand-in handlers: Lambda's SQS semantics.

Event shape, partial batch failure, whole-batch failure when the handler raises,
redelivery after the visibility timeout, the dead-letter queue after maxReceiveCount, and
the S3 -> SQS notification the emulator emits for the resources deploy/local/resources.py makes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest

from deploy.local.dispatcher import SqsDispatcher, failed_ids
from deploy.local.lambda_context import LambdaContext, one_at_a_time
from deploy.local.resources import ensure_resources, ensure_ttl
from handlers.dynamo_store import TTL_ATTRIBUTE


def _names() -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return {
        "uploads_bucket": f"up-{suffix}",
        "processed_bucket": f"out-{suffix}",
        "table": f"meta-{suffix}",
        "queue": f"events-{suffix}",
    }


@pytest.fixture
def resources(emulator: str) -> Any:
    return ensure_resources(
        **_names(),
        region="us-east-1",
        endpoint_url=emulator,
        max_receive_count=2,
        visibility_timeout_s=1,
    )


def _client(emulator: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=emulator, region_name="us-east-1")


def _drain_test_event(dispatcher: SqsDispatcher) -> None:
    """Consume the s3:TestEvent S3 posts when the notification is configured."""
    outcome = dispatcher.poll_once()
    assert outcome is not None
    assert json.loads(outcome.records[0]["body"])["Event"] == "s3:TestEvent"


def test_records_have_lambdas_sqs_event_shape(emulator: str, resources: Any) -> None:
    sqs = _client(emulator, "sqs")
    seen: list[tuple[dict[str, Any], Any]] = []
    dispatcher = SqsDispatcher(
        resources.queue_url, lambda e, c: seen.append((e, c)), sqs=sqs, wait_time_s=1
    )
    _drain_test_event(dispatcher)
    seen.clear()
    sqs.send_message(
        QueueUrl=resources.queue_url,
        MessageBody="hello",
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "greeting"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    outcome = dispatcher.poll_once()

    assert outcome is not None and outcome.deleted == [outcome.records[0]["messageId"]]
    event, context = seen[0]
    (record,) = event["Records"]
    assert set(record) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "md5OfMessageAttributes",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert record["body"] == "hello"
    assert record["md5OfBody"] == hashlib.md5(b"hello").hexdigest()
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == resources.queue_arn
    assert record["awsRegion"] == "us-east-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(
        record["attributes"]
    )
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "greeting",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert base64.b64decode(record["messageAttributes"]["blob"]["binaryValue"]) == b"\x00\x01"
    assert isinstance(context, LambdaContext)
    assert 0 < context.get_remaining_time_in_millis() <= 60_000
    assert context.invoked_function_arn.endswith(":function:resize")
    assert (
        sqs.receive_message(QueueUrl=resources.queue_url, WaitTimeSeconds=0).get("Messages") is None
    )


def test_partial_failure_redelivers_only_failed_then_dead_letters(
    emulator: str, resources: Any
) -> None:
    sqs = _client(emulator, "sqs")
    calls: list[list[str]] = []

    def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        calls.append([r["body"] for r in event["Records"]])
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "bad"
            ]
        }

    dispatcher = SqsDispatcher(resources.queue_url, handler, sqs=sqs, wait_time_s=3)
    _drain_test_event(dispatcher)
    calls.clear()
    sqs.send_message_batch(
        QueueUrl=resources.queue_url,
        Entries=[{"Id": "1", "MessageBody": "good"}, {"Id": "2", "MessageBody": "bad"}],
    )

    first = dispatcher.poll_once()
    assert first is not None and sorted(calls[0]) == ["bad", "good"]
    assert len(first.deleted) == 1 and len(first.failed) == 1
    # Hidden until the 1 s visibility timeout passes, then back with receive count 2.
    second = dispatcher.poll_once()
    assert second is not None and calls[1] == ["bad"]
    assert second.records[0]["attributes"]["ApproximateReceiveCount"] == "2"
    # maxReceiveCount=2 reached: the next receive moves it to the dead-letter queue.
    assert dispatcher.poll_once() is None
    dead = sqs.receive_message(QueueUrl=resources.dlq_url, WaitTimeSeconds=2)["Messages"]
    assert [m["Body"] for m in dead] == ["bad"]


def test_handler_exception_leaves_the_whole_batch(emulator: str, resources: Any) -> None:
    sqs = _client(emulator, "sqs")
    attempts: list[int] = []

    def handler(event: dict[str, Any], _context: Any) -> None:
        if event["Records"][0]["body"] != "once":
            return
        attempts.append(len(event["Records"]))
        if len(attempts) == 1:
            raise RuntimeError("transient")

    dispatcher = SqsDispatcher(resources.queue_url, handler, sqs=sqs, wait_time_s=3)
    _drain_test_event(dispatcher)
    sqs.send_message(QueueUrl=resources.queue_url, MessageBody="once")
    crashed = dispatcher.poll_once()
    assert crashed is not None and crashed.deleted == [] and crashed.error is not None
    retried = dispatcher.poll_once()
    assert retried is not None and len(retried.deleted) == 1
    assert attempts == [1, 1]
    assert dispatcher.poll_once() is None


def test_stop_waits_for_the_batch_in_flight_not_for_idle_long_polls(
    emulator: str, resources: Any
) -> None:
    """Pollers in a 20 s long poll do not hold a stop; a batch being handled does, and no
    batch starts once the stop is asked for."""
    sqs = _client(emulator, "sqs")
    handled: list[str] = []
    started = threading.Event()

    def handler(event: dict[str, Any], _context: Any) -> None:
        bodies = [r["body"] for r in event["Records"]]
        if "slow" in bodies:
            started.set()
            time.sleep(0.5)
        handled.extend(bodies)

    dispatcher = SqsDispatcher(resources.queue_url, handler, sqs=sqs, wait_time_s=20)
    _drain_test_event(dispatcher)
    handled.clear()
    dispatcher.start(2)
    sqs.send_message(QueueUrl=resources.queue_url, MessageBody="slow")
    assert started.wait(10)
    dispatcher.stop()
    assert handled == ["slow"]  # finished before stop returned
    attributes = sqs.get_queue_attributes(
        QueueUrl=resources.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"  # and settled

    idle = SqsDispatcher(resources.queue_url, handler, sqs=sqs, wait_time_s=20)
    idle.start(2)
    time.sleep(0.3)  # both pollers inside a 20 s ReceiveMessage now
    asked = time.monotonic()
    idle.stop()
    assert time.monotonic() - asked < 5  # not the 20 s of the long poll
    sqs.send_message(QueueUrl=resources.queue_url, MessageBody="after the stop")
    time.sleep(1)
    assert handled == ["slow"]  # received by a stopped poller maybe, never handed over


def test_failed_ids_reads_replies_as_lambda_does() -> None:
    ids = ["a", "b"]
    assert failed_ids(None, ids) == set()
    assert failed_ids({"batchItemFailures": []}, ids) == set()
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, ids) == {"b"}
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": ""}]}, ids) == {"a", "b"}
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "zz"}]}, ids) == {"a", "b"}


def test_emulator_sends_s3_notifications_to_the_queue(emulator: str, resources: Any) -> None:
    s3, sqs = _client(emulator, "s3"), _client(emulator, "sqs")
    bodies: list[dict[str, Any]] = []
    dispatcher = SqsDispatcher(
        resources.queue_url,
        lambda e, _c: bodies.extend(json.loads(r["body"]) for r in e["Records"]),
        sqs=sqs,
        wait_time_s=1,
    )
    _drain_test_event(dispatcher)
    bodies.clear()
    key = "dir one/a+b ü.jpg"
    s3.put_object(Bucket=resources.uploads_bucket, Key=key, Body=b"xyz", ContentType="image/jpeg")
    assert dispatcher.poll_once() is not None
    (record,) = bodies[0]["Records"]
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"]["name"] == resources.uploads_bucket
    assert unquote_plus(record["s3"]["object"]["key"]) == key
    assert record["s3"]["object"]["size"] == 3


def test_ensure_resources_is_idempotent(emulator: str) -> None:
    names = _names()
    first = ensure_resources(**names, endpoint_url=emulator, region="us-east-1")
    second = ensure_resources(
        **names, endpoint_url=emulator, region="us-east-1", visibility_timeout_s=7
    )
    assert first == second
    sqs, s3 = _client(emulator, "sqs"), _client(emulator, "s3")
    attributes = sqs.get_queue_attributes(QueueUrl=first.queue_url, AttributeNames=["All"])[
        "Attributes"
    ]
    assert attributes["VisibilityTimeout"] == "7"
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == first.dlq_arn
    assert int(redrive["maxReceiveCount"]) == 3
    policy = json.loads(attributes["Policy"])["Statement"][0]
    assert policy["Principal"] == {"Service": "s3.amazonaws.com"}
    bucket_arn = f"arn:aws:s3:::{names['uploads_bucket']}"
    assert policy["Condition"]["ArnLike"]["aws:SourceArn"] == bucket_arn
    config = s3.get_bucket_notification_configuration(Bucket=names["uploads_bucket"])
    assert [c["QueueArn"] for c in config["QueueConfigurations"]] == [first.queue_arn]
    # Configured once: exactly one s3:TestEvent, the second run wrote nothing.
    messages = sqs.receive_message(
        QueueUrl=first.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
    )["Messages"]
    assert [json.loads(m["Body"]).get("Event") for m in messages] == ["s3:TestEvent"]
    table = _client(emulator, "dynamodb").describe_table(TableName=names["table"])["Table"]
    indexes = [i["IndexName"] for i in table["GlobalSecondaryIndexes"]]
    assert indexes == ["by_uploaded_at", "by_owner"]
    # Pending items of unused upload grants expire: TTL on handlers.dynamo_store's attribute.
    ttl = _client(emulator, "dynamodb").describe_time_to_live(TableName=names["table"])
    assert ttl["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": TTL_ATTRIBUTE,
    }


def test_ensure_ttl_accepts_a_table_where_it_is_on_already(emulator: str) -> None:
    names = _names()
    ensure_resources(**names, endpoint_url=emulator, region="us-east-1")
    dynamodb = _client(emulator, "dynamodb")
    calls: list[str] = []

    class Recording:
        """The client, recording update_time_to_live calls (there should be none)."""

        def __getattr__(self, name: str) -> Any:
            if name == "update_time_to_live":
                calls.append(name)
            return getattr(dynamodb, name)

    ensure_ttl(Recording(), names["table"])
    assert calls == []


def test_one_at_a_time_never_overlaps_invocations() -> None:
    inside: list[int] = []
    overlaps: list[int] = []

    def handler(event: dict[str, Any], _context: Any) -> int:
        inside.append(event["n"])
        if len(inside) > 1:
            overlaps.append(event["n"])
        time.sleep(0.01)
        inside.remove(event["n"])
        return event["n"] * 2

    lock = threading.Lock()
    serial = one_at_a_time(handler, lock)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda n: serial({"n": n}, None), range(32)))
    assert results == [n * 2 for n in range(32)] and overlaps == []
