"""The resize function under moto: real buckets, table and queue, documented events."""

from __future__ import annotations

import io
import json
import unicodedata
import warnings
from typing import Any
from urllib.parse import unquote

import botocore.exceptions
import pytest
from PIL import Image

from handlers import bootstrap, resize
from handlers.errors import TransientError
from handlers.keys import MAX_KEY_BYTES, direct_image_id
from handlers.observability import logger
from imgproc import REASONS
from tests.handlers.conftest import (
    Aws,
    LambdaContext,
    eventbridge_event,
    jpeg_bytes,
    load_event,
    png_bytes,
    s3_event,
    sqs_event,
)


def _only_item(aws: Aws) -> dict:
    items = aws.items()
    assert len(items) == 1, items
    return items[0]


def _image(aws: Aws, key: str, bucket: str | None = None) -> tuple[Image.Image, dict]:
    obj = aws.s3.get_object(Bucket=bucket or aws.processed_bucket, Key=key)
    return Image.open(io.BytesIO(obj["Body"].read())), obj


def test_direct_put_makes_rendition_and_item(aws: Aws, context: LambdaContext) -> None:
    event = aws.put("photos/cat.jpg", jpeg_bytes((800, 600)))

    result = resize.handler(event, context)

    assert result["outcomes"][0]["status"] == "processed"
    assert aws.keys() == ["photos/cat.jpg"]
    image, obj = _image(aws, "photos/cat.jpg")
    assert (image.format, image.size) == ("JPEG", (500, 375))
    assert obj["ContentType"] == "image/jpeg"
    assert obj["CacheControl"] == "private, max-age=900"  # never kept by shared caches
    etag = event["Records"][0]["s3"]["object"]["eTag"]
    image_id = direct_image_id(aws.uploads_bucket, "photos/cat.jpg")
    assert obj["Metadata"] == {
        "generated-by": "image-pipeline",
        "image-id": image_id,
        "source-bucket": aws.uploads_bucket,
        "source-key": "photos/cat.jpg",
        "source-sequencer": "000000000000000C0F6F405D6ED209E1",  # the event's, padded
    }
    item = _only_item(aws)
    assert item["image_id"] == image_id
    assert item["status"] == "processed"
    assert item["source_bucket"] == aws.uploads_bucket
    assert item["source_key"] == "photos/cat.jpg"
    assert (item["source_revision"], item["source_etag"]) == (etag, etag)
    assert "source_version_id" not in item  # unversioned bucket
    assert item["filename"] == "cat.jpg"
    assert item["uploaded_at"] == "2019-09-03T19:37:27.192Z"  # the event time
    assert item["processed_at"].endswith("Z")
    assert (item["original_width"], item["original_height"]) == (800, 600)
    assert item["original_format"] == "JPEG"
    assert item["original_size_bytes"] == len(jpeg_bytes((800, 600)))
    assert (item["processed_width"], item["processed_height"]) == (500, 375)
    assert item["processed_bucket"] == aws.processed_bucket
    assert item["processed_key"] == "photos/cat.jpg"
    assert item["processed_size_bytes"] == obj["ContentLength"]
    assert item["content_type"] == "image/jpeg"
    assert item["listing"] == "images"
    assert "error_reason" not in item


def test_png_with_alpha_keeps_png_and_extension(aws: Aws, context: LambdaContext) -> None:
    event = aws.put("logo.png", png_bytes((1000, 200), alpha=True))

    resize.handler(event, context)

    image, obj = _image(aws, "logo.png")
    assert (image.format, image.size, image.mode) == ("PNG", (500, 100), "RGBA")
    assert obj["ContentType"] == "image/png"


HOSTILE_KEYS = {
    "space": "my holiday photo.jpg",
    "plus": "a+b=c.jpg",
    "percent": "100%25 real %41.jpg",
    "nfc": unicodedata.normalize("NFC", "café/crème.jpg"),
    "nfd": unicodedata.normalize("NFD", "café/crème.jpg"),
    "emoji": "😀 party/🎉🎈.jpg",
    "long": "deep/" + "é" * 505 + ".jpg",  # 1,019 bytes of UTF-8: output needs truncating
    "long_emoji": "😀" * 254 + ".jpg",  # 1,020 bytes, 4-byte characters
    "leading_slash": "/leading.jpg",
    "double_slash": "a//b///c.jpg",
    "dot_dot": "../../../etc/passwd.jpg",
    "encoded_dot_dot": "%2e%2e/%2E%2E%2f..%2fescape.jpg",
    "backslash": "..\\..\\windows.jpg",
    "control": "tab\there\nnewline.jpg",
    "no_extension": "README",
}


SLASHED = {name: key for name, key in HOSTILE_KEYS.items() if "/" in key}
HOSTILE_CASES = [pytest.param(key, False, id=name) for name, key in HOSTILE_KEYS.items()] + [
    pytest.param(key, True, id=f"{name}-slash_encoded") for name, key in SLASHED.items()
]


@pytest.mark.parametrize(("key", "encode_slash"), HOSTILE_CASES)
def test_hostile_keys(
    aws: Aws,
    context: LambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    key: str,
    encode_slash: bool,
) -> None:
    monkeypatch.setenv("PROCESSED_PREFIX", "renditions/")
    bootstrap.reset()
    data = jpeg_bytes((300, 200))
    resp = aws.s3.put_object(Bucket=aws.uploads_bucket, Key=key, Body=data)
    event = s3_event(
        aws.uploads_bucket, key, etag=resp["ETag"].strip('"'), encode_slash=encode_slash
    )

    resize.handler(event, context)

    item = _only_item(aws)
    assert item["status"] == "processed"
    assert item["source_key"] == key  # exact, byte for byte
    out_key = item["processed_key"]
    assert aws.keys() == [out_key]
    assert out_key.startswith("renditions/")
    assert len(out_key.encode("utf-8")) <= MAX_KEY_BYTES
    assert out_key.endswith(".jpg")
    segments = out_key.split("/")
    assert all(s not in ("", ".", "..") for s in segments)
    assert all(unquote(unquote(s)) not in (".", "..") for s in segments)
    assert "\\" not in out_key and "\n" not in out_key
    _, obj = _image(aws, out_key)
    meta = obj["Metadata"]
    assert meta["source-key"].isascii()
    assert key.startswith(unquote(meta["source-key"]))
    if "source-key-truncated" not in meta:
        assert unquote(meta["source-key"]) == key


def test_nfc_and_nfd_keys_are_distinct_objects(aws: Aws, context: LambdaContext) -> None:
    nfc = unicodedata.normalize("NFC", "é.jpg")
    nfd = unicodedata.normalize("NFD", "é.jpg")
    for key in (nfc, nfd):
        resize.handler(aws.put(key, jpeg_bytes((100, 100))), context)

    assert {i["source_key"] for i in aws.items()} == {nfc, nfd}
    assert len(aws.keys()) == 2


def test_duplicate_event_gives_one_output_and_one_item(aws: Aws, context: LambdaContext) -> None:
    event = aws.put("dup.jpg", jpeg_bytes())

    first = resize.handler(event, context)
    item_before = _only_item(aws)
    second = resize.handler(event, context)

    assert first["outcomes"][0]["status"] == "processed"
    assert second["outcomes"][0] == {
        **first["outcomes"][0],
        "status": "skipped",
        "reason": "duplicate",
        "processed_key": None,
    }
    assert aws.keys() == ["dup.jpg"]
    assert _only_item(aws) == item_before


def test_reupload_same_key_replaces_rendition(aws: Aws, context: LambdaContext) -> None:
    aws.s3.put_bucket_versioning(
        Bucket=aws.uploads_bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    old_event = aws.put("same.jpg", jpeg_bytes((800, 600)))
    resize.handler(old_event, context)
    new_event = aws.put("same.jpg", jpeg_bytes((600, 900)))
    assert new_event["Records"][0]["s3"]["object"]["versionId"]

    resize.handler(new_event, context)
    late = resize.handler(old_event, context)  # an old event delivered late

    assert late["outcomes"][0]["reason"] == "superseded"
    image, _ = _image(aws, "same.jpg")
    assert image.size == (333, 500)
    assert aws.keys() == ["same.jpg"]
    item = _only_item(aws)  # one item per key, describing the newest version
    new_version = new_event["Records"][0]["s3"]["object"]["versionId"]
    assert item["source_version_id"] == item["source_revision"] == new_version
    assert (item["status"], item["original_width"], item["original_height"]) == (
        "processed",
        600,
        900,
    )


def test_out_of_order_old_version_is_superseded(aws: Aws, context: LambdaContext) -> None:
    aws.s3.put_bucket_versioning(
        Bucket=aws.uploads_bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    old_event = aws.put("race.jpg", jpeg_bytes((800, 600)))
    new_event = aws.put("race.jpg", jpeg_bytes((600, 900)))

    resize.handler(new_event, context)
    late = resize.handler(old_event, context)

    assert late["outcomes"][0]["status"] == "skipped"
    assert late["outcomes"][0]["reason"] == "superseded"
    image, _ = _image(aws, "race.jpg")
    assert image.size == (333, 500)
    assert len(aws.items()) == 1


def test_events_for_processed_bucket_are_skipped(aws: Aws, context: LambdaContext) -> None:
    resize.handler(aws.put("loop.jpg", jpeg_bytes()), context)
    rendition = aws.s3.head_object(Bucket=aws.processed_bucket, Key="loop.jpg")
    event = s3_event(aws.processed_bucket, "loop.jpg", etag=rendition["ETag"].strip('"'))

    result = resize.handler(event, context)

    assert result["outcomes"][0]["reason"] == "recursion"
    assert aws.keys() == ["loop.jpg"]
    assert len(aws.items()) == 1


def test_recursion_guard_when_processed_bucket_is_the_source(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROCESSED_BUCKET", aws.uploads_bucket)
    monkeypatch.setenv("PROCESSED_PREFIX", "processed")  # normalised to "processed/"
    bootstrap.reset()
    resize.handler(aws.put("me.jpg", jpeg_bytes()), context)
    out = aws.s3.head_object(Bucket=aws.uploads_bucket, Key="processed/me.jpg")
    # S3 would now notify about the rendition itself ...
    own = s3_event(aws.uploads_bucket, "processed/me.jpg", etag=out["ETag"].strip('"'))
    # ... and about a copy of it elsewhere (copy_object keeps the metadata marker).
    aws.s3.copy_object(
        Bucket=aws.uploads_bucket,
        Key="elsewhere/me.jpg",
        CopySource={"Bucket": aws.uploads_bucket, "Key": "processed/me.jpg"},
    )
    copy_head = aws.s3.head_object(Bucket=aws.uploads_bucket, Key="elsewhere/me.jpg")
    copied = s3_event(aws.uploads_bucket, "elsewhere/me.jpg", etag=copy_head["ETag"].strip('"'))

    results = [resize.handler(e, context)["outcomes"][0] for e in (own, copied)]

    assert [r["reason"] for r in results] == ["recursion", "recursion"]
    assert aws.keys(aws.uploads_bucket) == ["elsewhere/me.jpg", "me.jpg", "processed/me.jpg"]
    assert len(aws.items()) == 1


@pytest.mark.parametrize(
    ("data", "reasons"),
    [
        (jpeg_bytes((800, 600))[:1500], {"truncated", "corrupt"}),
        (b"this is not an image at all" * 10, {"unsupported_format"}),
        (b"", {"empty"}),
    ],
    ids=["truncated_jpeg", "garbage", "empty"],
)
def test_rejection_records_reason_and_writes_nothing(
    aws: Aws, context: LambdaContext, data: bytes, reasons: set[str]
) -> None:
    event = aws.put("bad.jpg", data)

    result = resize.handler(event, context)  # no exception: final outcome
    again = resize.handler(event, context)

    assert result["outcomes"][0]["status"] == "rejected"
    assert again["outcomes"][0]["reason"] == "duplicate"
    assert aws.keys() == []
    item = _only_item(aws)
    assert item["status"] == "rejected"
    assert item["error_reason"] in reasons and item["error_reason"] in REASONS
    assert item["error_message"]
    assert "processed_key" not in item


class _WatchedBody:
    """A GetObject body that counts what is read of it and whether it was closed."""

    def __init__(self, body: Any, *, readable: bool = True) -> None:
        self.body = body
        self.readable = readable
        self.read_bytes = 0
        self.closed = False

    def read(self, amt: int | None = None) -> bytes:
        if not self.readable:
            raise AssertionError("this body must not be read")
        data: bytes = self.body.read(amt)
        self.read_bytes += len(data)
        return data

    def close(self) -> None:
        self.closed = True
        self.body.close()


def _watch_s3(
    monkeypatch: pytest.MonkeyPatch, client: Any, *, readable: bool = True
) -> tuple[list[str], list[_WatchedBody]]:
    """Record the S3 operations ``client`` makes, and wrap every GetObject body."""
    operations: list[str] = []
    bodies: list[_WatchedBody] = []

    def count(event_name: str, **kwargs: Any) -> None:
        operations.append(event_name.rsplit(".", 1)[-1])

    client.meta.events.register("before-call.s3.*", count)
    real_get = client.get_object

    def get_object(**kwargs: Any) -> dict[str, Any]:
        response = dict(real_get(**kwargs))
        response["Body"] = _WatchedBody(response["Body"], readable=readable)
        bodies.append(response["Body"])
        return response

    monkeypatch.setattr(client, "get_object", get_object)
    return operations, bodies


def test_one_s3_read_per_object_no_head(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = jpeg_bytes((800, 600))
    event = aws.put("one-read.jpg", data)
    client = bootstrap.get_deps("resize").objects.client
    operations, bodies = _watch_s3(monkeypatch, client)

    result = resize.handler(event, context)

    assert result["outcomes"][0]["status"] == "processed"
    reads = [op for op in operations if op in ("HeadObject", "GetObject")]
    assert reads == ["GetObject"]
    assert [b.read_bytes for b in bodies] == [len(data)] and bodies[0].closed
    item = _only_item(aws)
    assert (item["original_size_bytes"], item["source_etag"]) == (
        len(data),
        aws.s3.head_object(Bucket=aws.uploads_bucket, Key="one-read.jpg")["ETag"].strip('"'),
    )


def test_a_duplicate_delivery_closes_the_body_unread(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = aws.put("twice.jpg", jpeg_bytes((800, 600)))
    resize.handler(event, context)
    client = bootstrap.get_deps("resize").objects.client
    operations, bodies = _watch_s3(monkeypatch, client, readable=False)

    again = resize.handler(event, context)["outcomes"][0]

    assert (again["status"], again["reason"]) == ("skipped", "duplicate")
    assert [op for op in operations if op in ("HeadObject", "GetObject")] == ["GetObject"]
    assert len(bodies) == 1 and bodies[0].closed and bodies[0].read_bytes == 0


def test_oversize_object_rejected_without_reading_its_body(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_OBJECT_BYTES", "1000")
    bootstrap.reset()
    event = aws.put("huge.jpg", jpeg_bytes((400, 400)))
    client = bootstrap.get_deps("resize").objects.client
    operations, bodies = _watch_s3(monkeypatch, client, readable=False)

    resize.handler(event, context)

    item = _only_item(aws)
    assert (item["status"], item["error_reason"]) == ("rejected", "too_large")
    assert "1000" in item["error_message"]
    assert aws.keys() == []
    # the size comes from the GET's ContentLength: no byte of the body is read
    assert [op for op in operations if op in ("HeadObject", "GetObject")] == ["GetObject"]
    assert len(bodies) == 1 and bodies[0].closed and bodies[0].read_bytes == 0


def _client_error(code: str, status: int, operation: str) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {
            "Error": {"Code": code, "Message": "injected"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


@pytest.mark.parametrize(
    "fault",
    [
        _client_error("SlowDown", 503, "GetObject"),
        _client_error("InternalError", 500, "GetObject"),
        botocore.exceptions.ReadTimeoutError(endpoint_url="https://s3.amazonaws.com"),
    ],
    ids=["slow_down", "internal_error", "read_timeout"],
)
def test_transient_s3_fault_raises_for_retry(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch, fault: Exception
) -> None:
    event = aws.put("flaky.jpg", jpeg_bytes())
    deps = bootstrap.get_deps("resize")
    real_get = deps.objects.client.get_object
    calls = []

    def failing_get(**kwargs: object) -> object:
        calls.append(kwargs)
        raise fault

    monkeypatch.setattr(deps.objects.client, "get_object", failing_get)

    with pytest.raises(TransientError) as raised:
        resize.handler(event, context)

    assert raised.value.__cause__ is fault
    assert calls and aws.keys() == [] and aws.items() == []
    # Lambda retries: the fault has passed, the same event now succeeds.
    monkeypatch.setattr(deps.objects.client, "get_object", real_get)
    assert resize.handler(event, context)["outcomes"][0]["status"] == "processed"
    assert aws.keys() == ["flaky.jpg"]


def test_dynamodb_throttling_raises_for_retry(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = aws.put("throttled.jpg", jpeg_bytes())
    deps = bootstrap.get_deps("resize")

    def throttled(**kwargs: object) -> None:
        raise _client_error("ProvisionedThroughputExceededException", 400, "UpdateItem")

    monkeypatch.setattr(deps.metadata.client, "update_item", throttled)

    with pytest.raises(TransientError, match="ProvisionedThroughputExceeded"):
        resize.handler(event, context)


def test_unexpected_error_marks_failed_then_retry_succeeds(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = aws.put("bug.jpg", jpeg_bytes())

    def broken(data: bytes, *args: object, **kwargs: object) -> None:
        raise RuntimeError("engine bug")

    with monkeypatch.context() as m:
        m.setattr("handlers.pipeline.process_set", broken)
        with pytest.raises(RuntimeError):
            resize.handler(event, context)
    failed = _only_item(aws)
    assert (failed["status"], failed["error_reason"]) == ("failed", "internal_error")

    resize.handler(event, context)

    item = _only_item(aws)
    assert item["status"] == "processed"
    assert "error_reason" not in item and "error_message" not in item


def test_sqs_batch_reports_only_the_failing_message(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # S3 -> SQS: send the notifications through a real (mocked) queue, as the dispatcher does.
    for key in ("ok-1.jpg", "flaky.jpg", "ok-2.jpg"):
        body = aws.put(key, jpeg_bytes((700, 700)))
        aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody=json.dumps(body))
    received = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10)
    messages = received["Messages"]
    assert len(messages) == 3
    event = sqs_event(*(m["Body"] for m in messages))
    for record, message in zip(event["Records"], messages, strict=True):
        record["messageId"] = message["MessageId"]
    flaky_id = next(m["MessageId"] for m in messages if "flaky" in m["Body"])
    deps = bootstrap.get_deps("resize")
    real_get = deps.objects.client.get_object

    def get(**kwargs: object) -> object:
        if kwargs["Key"] == "flaky.jpg":
            raise _client_error("SlowDown", 503, "GetObject")
        return real_get(**kwargs)

    monkeypatch.setattr(deps.objects.client, "get_object", get)

    result = resize.handler(event, context)

    assert result == {"batchItemFailures": [{"itemIdentifier": flaky_id}]}
    assert aws.keys() == ["ok-1.jpg", "ok-2.jpg"]
    assert sorted(i["source_key"] for i in aws.items()) == ["ok-1.jpg", "ok-2.jpg"]


def test_sqs_malformed_and_test_messages(aws: Aws, context: LambdaContext) -> None:
    good = aws.put("fine.jpg", jpeg_bytes())
    test_event = json.loads(load_event("sqs_s3_test_event")["Records"][0]["body"])
    event = sqs_event(good, "{not json", test_event)

    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)
    try:
        result = resize.handler(event, context)
    finally:
        logger.registered_handler.setStream(previous)

    # Not JSON can never succeed: acknowledged (no retries into the DLQ), logged at ERROR.
    assert result == {"batchItemFailures": []}
    assert aws.keys() == ["fine.jpg"]
    bad_id = event["Records"][1]["messageId"]
    errors = [json.loads(line) for line in stream.getvalue().splitlines()]
    errors = [line for line in errors if line["level"] == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["message_id"] == bad_id
    assert "not an S3 notification" in errors[0]["error"]


def test_sqs_documented_fixture_with_substituted_key(aws: Aws, context: LambdaContext) -> None:
    notification = aws.put("from sqs/a+b.jpg", jpeg_bytes())
    event = sqs_event(notification)

    assert resize.handler(event, context) == {"batchItemFailures": []}
    assert _only_item(aws)["source_key"] == "from sqs/a+b.jpg"


def test_eventbridge_object_created(aws: Aws, context: LambdaContext) -> None:
    data = jpeg_bytes((1200, 300))
    resp = aws.s3.put_object(Bucket=aws.uploads_bucket, Key="eb/wide photo.jpg", Body=data)
    event = eventbridge_event(
        aws.uploads_bucket, "eb/wide photo.jpg", etag=resp["ETag"].strip('"'), size_bytes=len(data)
    )

    result = resize.handler(event, context)

    assert result["outcomes"][0]["status"] == "processed"
    image, _ = _image(aws, "eb/wide photo.jpg")
    assert image.size == (500, 125)
    item = _only_item(aws)
    assert item["uploaded_at"] == "2021-11-12T00:00:00.000Z"


def test_api_style_key_updates_the_pending_item(aws: Aws, context: LambdaContext) -> None:
    image_id = "0123456789abcdef0123456789abcdef"
    aws.dynamodb.put_item(
        TableName=aws.table,
        Item={
            "image_id": {"S": image_id},
            "status": {"S": "pending"},
            "source_bucket": {"S": aws.uploads_bucket},
            "filename": {"S": "Holiday Photo.JPG"},
            "uploaded_at": {"S": "2024-01-01T00:00:00.000Z"},
            "listing": {"S": "images"},
            # as the API wrote pending items before upload tokens: origin and exact key
            "origin": {"S": "api"},
            "source_key": {"S": f"uploads/{image_id}/Holiday_Photo.JPG"},
        },
    )
    event = aws.put(f"uploads/{image_id}/Holiday_Photo.JPG", jpeg_bytes())

    resize.handler(event, context)

    item = _only_item(aws)
    assert item["image_id"] == image_id
    assert item["status"] == "processed"
    assert item["filename"] == "Holiday Photo.JPG"
    assert item["uploaded_at"] == "2024-01-01T00:00:00.000Z"
    assert item["processed_key"] == f"uploads/{image_id}/Holiday_Photo.JPG"


def test_metrics_and_logs_are_structured(
    aws: Aws, context: LambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    event = aws.put("observed.jpg", jpeg_bytes())
    log_stream = io.StringIO()
    handler = logger.registered_handler
    previous = handler.setStream(log_stream)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            resize.handler(event, context)
            resize.handler(load_event("sqs_s3_test_event"), context)  # no metrics, no warning
    finally:
        handler.setStream(previous)

    logs = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    processed = [line for line in logs if line["message"] == "image processed"]
    assert len(processed) == 1
    assert processed[0]["key"] == "observed.jpg"
    assert processed[0]["bucket"] == aws.uploads_bucket
    assert len(processed[0]["image_id"]) == 32
    assert processed[0]["request_id"] == context.aws_request_id
    lines = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")
    ]
    emf = [line for line in lines if "_aws" in line]
    assert len(emf) == 1
    directive = emf[0]["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "ImagePipelineTest"
    names = {m["Name"] for m in directive["Metrics"]}
    assert {"ImagesProcessed", "ProcessingTime", "BytesIn", "BytesOut"} <= names
    assert emf[0]["ImagesProcessed"] in (1.0, [1.0])
