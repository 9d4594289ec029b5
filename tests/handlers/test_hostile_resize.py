"""Hostile deliveries for the resize function: broken events, vanished objects, races, faults."""

from __future__ import annotations

import base64
import copy
import io
import json

import botocore.exceptions
import pytest
from PIL import Image

from handlers import bootstrap, resize
from handlers.errors import TransientError
from handlers.events import EventShapeError, objects_from_event
from handlers.keys import MAX_KEY_BYTES
from handlers.observability import logger
from handlers.pipeline import resize_object
from tests.handlers.conftest import (
    Aws,
    LambdaContext,
    api_event,
    eventbridge_event,
    jpeg_bytes,
    load_event,
    png_bytes,
    s3_event,
    sqs_event,
)
from tests.handlers.test_api import call


def _client_error(code: str, status: int, operation: str) -> botocore.exceptions.ClientError:
    meta = {"HTTPStatusCode": status}
    error = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": meta}
    return botocore.exceptions.ClientError(error, operation)  # type: ignore[arg-type]


def _api_upload(aws: Aws, context: LambdaContext, data: bytes) -> tuple[str, dict]:
    """POST /images, then the S3 event the stored original would cause."""
    _, _, body = call(api_event("apigw_post_images_binary", body=data), context)
    image_id = body["image_id"]
    key = aws.item(image_id)["source_key"]
    head = aws.s3.head_object(Bucket=aws.uploads_bucket, Key=key)
    event = s3_event(aws.uploads_bucket, key, etag=head["ETag"].strip('"'), size_bytes=len(data))
    return image_id, event


def _sns_envelope(message: dict | str) -> dict:
    """An SNS Notification as SNS delivers it to an SQS queue (raw delivery off)."""
    return {
        "Type": "Notification",
        "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:image-uploads",
        "Subject": "Amazon S3 Notification",
        "Message": message if isinstance(message, str) else json.dumps(message),
        "Timestamp": "2024-05-01T12:00:00.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    }


# ---------------------------------------------------------------- event shapes


def test_direct_s3_test_event_is_a_no_op(aws: Aws, context: LambdaContext) -> None:
    test_event = json.loads(load_event("sqs_s3_test_event")["Records"][0]["body"])

    assert resize.handler(test_event, context) == {"outcomes": []}
    assert aws.items() == [] and aws.keys() == []


@pytest.mark.parametrize(
    "path", [("s3", "object", "key"), ("s3", "bucket"), ("eventName",), ("s3",)]
)
def test_records_missing_fields(aws: Aws, context: LambdaContext, path: tuple[str, ...]) -> None:
    good = aws.put("good.jpg", jpeg_bytes())
    broken = copy.deepcopy(good)
    parent = broken["Records"][0]
    for name in path[:-1]:
        parent = parent[name]
    del parent[path[-1]]

    with pytest.raises(EventShapeError):  # direct delivery: raised, Lambda's retries then DLQ
        resize.handler(broken, context)
    # via SQS: it can never succeed, so it is acknowledged (not retried into the DLQ)
    result = resize.handler(sqs_event(broken, good), context)

    assert result == {"batchItemFailures": []}
    assert aws.keys() == ["good.jpg"]


def test_eventbridge_without_detail(aws: Aws, context: LambdaContext) -> None:
    event = eventbridge_event(aws.uploads_bucket, "x.jpg", etag="e", size_bytes=1)
    del event["detail"]

    with pytest.raises(EventShapeError):
        resize.handler(event, context)
    assert aws.items() == []


def test_sns_envelope_in_sqs(aws: Aws, context: LambdaContext) -> None:
    notification = aws.put("fan out/via sns.jpg", jpeg_bytes((900, 300)))
    test_event = load_event("sqs_s3_test_event")["Records"][0]["body"]
    event = sqs_event(
        _sns_envelope(notification), _sns_envelope(test_event), _sns_envelope("not json")
    )

    result = resize.handler(event, context)

    assert result == {"batchItemFailures": []}  # "not json" is acknowledged, not retried
    assert aws.keys() == ["fan out/via sns.jpg"]
    (item,) = aws.items()
    assert (item["source_key"], item["status"], item["processed_width"]) == (
        "fan out/via sns.jpg",
        "processed",
        500,
    )


# ---------------------------------------------------------------- keys


def test_undecodable_and_bare_percent_keys(aws: Aws, context: LambdaContext) -> None:
    notification = aws.put("50%zz off.jpg", jpeg_bytes())
    notification["Records"][0]["s3"]["object"]["key"] = "50%zz+off.jpg"  # bare % left as is
    invalid = copy.deepcopy(notification)
    invalid["Records"][0]["s3"]["object"]["key"] = "%ff%fe.jpg"  # not UTF-8: no such object

    outcomes = resize.handler(notification, context)["outcomes"]
    missing = resize.handler(invalid, context)["outcomes"]

    assert [(o["key"], o["status"]) for o in outcomes] == [("50%zz off.jpg", "processed")]
    assert [(o["status"], o["reason"]) for o in missing] == [("skipped", "source_missing")]
    assert aws.keys() == ["50%zz off.jpg"]
    assert [i["source_key"] for i in aws.items()] == ["50%zz off.jpg"]


@pytest.mark.parametrize(("suffix", "fmt"), [(".png", "PNG"), (".gif", "GIF")])
def test_key_of_exactly_1024_bytes(aws: Aws, context: LambdaContext, suffix: str, fmt: str) -> None:
    key = "deep/" + "ü" * ((MAX_KEY_BYTES - 5 - len(suffix)) // 2) + suffix
    key = key.replace("deep/", "deep/" + "d" * (MAX_KEY_BYTES - len(key.encode())), 1)
    assert len(key.encode("utf-8")) == MAX_KEY_BYTES
    out = io.BytesIO()
    Image.new("RGBA" if fmt == "PNG" else "RGB", (40, 30)).save(out, fmt)

    outcome = resize.handler(aws.put(key, out.getvalue()), context)["outcomes"][0]

    assert outcome["status"] == "processed"
    (rendition,) = aws.keys()
    assert rendition == outcome["processed_key"] and len(rendition.encode()) <= MAX_KEY_BYTES
    assert aws.items()[0]["source_key"] == key


# ---------------------------------------------------------------- objects


def test_deleted_api_upload_is_a_final_failure_not_a_retry_loop(
    aws: Aws, context: LambdaContext
) -> None:
    image_id, event = _api_upload(aws, context, jpeg_bytes())
    aws.s3.delete_object(Bucket=aws.uploads_bucket, Key=event["Records"][0]["s3"]["object"]["key"])

    assert resize.handler(sqs_event(event), context) == {"batchItemFailures": []}
    item = aws.item(image_id)
    assert (item["status"], item["error_reason"]) == ("failed", "source_missing")
    assert aws.keys() == []


def test_object_deleted_between_head_and_get(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    image_id, event = _api_upload(aws, context, jpeg_bytes())
    deps = bootstrap.get_deps("resize")
    real_get = deps.objects.client.get_object

    def get_after_delete(**kwargs: object) -> object:
        aws.s3.delete_object(Bucket=kwargs["Bucket"], Key=kwargs["Key"])
        return real_get(**kwargs)

    monkeypatch.setattr(deps.objects.client, "get_object", get_after_delete)

    outcome = resize.handler(event, context)["outcomes"][0]

    assert (outcome["status"], outcome["reason"]) == ("skipped", "source_missing")
    assert aws.item(image_id)["status"] == "failed" and aws.keys() == []


def test_folder_marker_is_skipped_without_an_item(aws: Aws, context: LambdaContext) -> None:
    outcome = resize.handler(aws.put("holiday photos/", b""), context)["outcomes"][0]

    assert (outcome["status"], outcome["reason"]) == ("skipped", "folder_marker")
    assert aws.items() == [] and aws.keys() == []


def test_zero_byte_object_is_rejected_empty(aws: Aws, context: LambdaContext) -> None:
    outcome = resize.handler(aws.put("empty.jpg", b""), context)["outcomes"][0]

    assert (outcome["status"], outcome["reason"]) == ("rejected", "empty")
    assert aws.items()[0]["error_reason"] == "empty" and aws.keys() == []


def test_foreign_bucket_cannot_take_over_an_api_item(aws: Aws, context: LambdaContext) -> None:
    image_id, event = _api_upload(aws, context, jpeg_bytes((800, 600), (200, 30, 30)))
    resize.handler(event, context)
    before = aws.item(image_id)
    aws.s3.create_bucket(Bucket="someone-elses")
    blue = jpeg_bytes((300, 300), (0, 0, 255))
    forged = aws.put(
        f"uploads/{image_id}/x.jpg", blue, bucket="someone-elses", Metadata={"image-id": image_id}
    )

    outcome = resize.handler(forged, context)["outcomes"][0]

    assert outcome["status"] == "processed" and outcome["image_id"] != image_id
    assert aws.item(image_id) == before
    assert aws.item(outcome["image_id"])["source_bucket"] == "someone-elses"


# ---------------------------------------------------------------- faults and races


def test_batch_of_ten_with_two_transient_failures(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = [f"batch/{i}.jpg" for i in range(1, 11)]
    event = sqs_event(*(aws.put(key, jpeg_bytes((60, 40))) for key in keys))
    deps = bootstrap.get_deps("resize")
    real_get = deps.objects.client.get_object

    def get(**kwargs: object) -> object:
        if kwargs["Key"] in ("batch/3.jpg", "batch/7.jpg"):
            raise _client_error("SlowDown", 503, "GetObject")
        return real_get(**kwargs)

    monkeypatch.setattr(deps.objects.client, "get_object", get)

    result = resize.handler(event, context)

    ids = [r["messageId"] for r in event["Records"]]
    assert result == {"batchItemFailures": [{"itemIdentifier": ids[2]}, {"itemIdentifier": ids[6]}]}
    assert aws.keys() == sorted(k for k in keys if k not in ("batch/3.jpg", "batch/7.jpg"))
    assert len(aws.items()) == 8


def test_concurrent_invocations_for_one_object(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    obj = objects_from_event(aws.put("race.jpg", jpeg_bytes()))[0]
    deps = bootstrap.get_deps("resize")
    # Both invocations read the item before either has written it.
    monkeypatch.setattr(deps.metadata, "get", lambda image_id: None)
    kwargs = {"settings": deps.settings, "objects": deps.objects, "metadata": deps.metadata}

    first = resize_object(obj, **kwargs)
    second = resize_object(obj, **kwargs)

    assert (first.status, second.status, second.reason) == ("processed", "skipped", "duplicate")
    assert aws.keys() == ["race.jpg"]
    (item,) = aws.items()
    assert item["status"] == "processed" and item["processed_key"] == "race.jpg"


def test_transient_rendition_put_leaves_no_processed_item(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    image_id, event = _api_upload(aws, context, jpeg_bytes())
    deps = bootstrap.get_deps("resize")
    real_put = deps.objects.client.put_object

    def put(**kwargs: object) -> object:
        raise _client_error("SlowDown", 503, "PutObject")

    monkeypatch.setattr(deps.objects.client, "put_object", put)
    with pytest.raises(TransientError):
        resize.handler(event, context)
    assert aws.item(image_id)["status"] == "pending" and aws.keys() == []

    monkeypatch.setattr(deps.objects.client, "put_object", real_put)
    resize.handler(event, context)
    item = aws.item(image_id)
    assert item["status"] == "processed" and aws.keys() == [item["processed_key"]]


def test_refused_rendition_put_marks_the_item_failed(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    image_id, event = _api_upload(aws, context, jpeg_bytes())
    deps = bootstrap.get_deps("resize")

    def put(**kwargs: object) -> object:
        raise _client_error("AccessDenied", 403, "PutObject")

    monkeypatch.setattr(deps.objects.client, "put_object", put)

    with pytest.raises(botocore.exceptions.ClientError):
        resize.handler(event, context)

    item = aws.item(image_id)
    assert (item["status"], item["error_reason"]) == ("failed", "internal_error")
    assert "processed_key" not in item and aws.keys() == []


# ---------------------------------------------------------------- logs and metrics


def test_logs_hold_no_image_bytes_or_events_and_metrics_flush_once(
    aws: Aws, context: LambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    data = png_bytes((300, 200))
    events = [aws.put(f"log/{i}.png", data) for i in range(3)]
    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)
    try:
        capsys.readouterr()
        result = resize.handler(sqs_event(*events, "{broken"), context)
        stdout = capsys.readouterr().out
    finally:
        logger.registered_handler.setStream(previous)

    assert result["batchItemFailures"] == []  # the broken message is acknowledged
    logs = stream.getvalue()
    assert base64.b64encode(data[:48]).decode()[:40] not in logs
    assert '"Records"' not in logs and "receiptHandle" not in logs and "\\x89PNG" not in logs
    lines = [json.loads(line) for line in logs.splitlines()]
    assert all(len(json.dumps(line)) < 8000 for line in lines)
    assert sum(line["message"] == "image processed" for line in lines) == 3
    emf = [line for line in stdout.splitlines() if '"_aws"' in line]
    assert len(emf) == 1
    assert json.loads(emf[0])["ImagesProcessed"] == [1.0, 1.0, 1.0]
    assert json.loads(emf[0])["MalformedMessages"] == [1.0]
