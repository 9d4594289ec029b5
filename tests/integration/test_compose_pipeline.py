"""The compose pipeline end to end: docker-compose.yml as it is, both functions as Lambda
containers behind the project's Lambda service, LocalStack for S3, SQS and DynamoDB.

upload (API, presigned POST, or straight into the bucket) -> S3 -> SQS -> the event source
mapping -> the resize function's container -> processed bucket + metadata item.

Where the stack comes from (Docker engine, the container lab, or already running) is in
conftest.py; without any of them these tests skip and say why. The same flows run
without containers in tests/e2e (the embedded runner).
"""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest
import requests
from PIL import Image

from tests.integration.conftest import Stack
from tests.support.events import s3_event_for
from tests.support.images import pixel, red_blue_jpeg

PROCESSED_BUCKET = "image-pipeline-processed"
UPLOADS_BUCKET = "image-pipeline-uploads"
TABLE = "image-pipeline-metadata"
QUEUE = "image-pipeline-resize"

pytestmark = [pytest.mark.container, pytest.mark.timeout(600)]


def api(
    stack: Stack, method: str, path: str, body: bytes | None = None, content_type: str = ""
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": content_type} if content_type else {}
    response = requests.request(
        method, f"{stack.api_url}{path}", data=body, headers=headers, timeout=60
    )
    return response.status_code, response.json() if response.content else {}


def wait_until_settled(stack: Stack, image_id: str, timeout_s: float = 120) -> dict[str, Any]:
    """The item of ``image_id`` once it is no longer pending (through the API)."""
    deadline = time.monotonic() + timeout_s
    item: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status, item = api(stack, "GET", f"/images/{image_id}")
        if status == 200 and item.get("status") not in (None, "pending"):
            return item
        time.sleep(0.5)
    pytest.fail(f"image {image_id} still not settled after {timeout_s} s: {item}\n{stack.logs()}")


def stored_item(stack: Stack, image_id: str) -> dict[str, Any]:
    """The table's own item of ``image_id`` (the API shows only a public view of it)."""
    table = stack.session().client("dynamodb")
    return table.get_item(TableName=TABLE, Key={"image_id": {"S": image_id}})["Item"]


def items_for_key(stack: Stack, key: str) -> list[dict[str, Any]]:
    """Every metadata item whose source is ``key`` in the uploads bucket (a table scan)."""
    table = stack.session().client("dynamodb")
    found: list[dict[str, Any]] = []
    for page in table.get_paginator("scan").paginate(TableName=TABLE):
        found += [i for i in page["Items"] if i["source_key"]["S"] == key]
    return found


def wait_for_direct_item(stack: Stack, key: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        settled = [i for i in items_for_key(stack, key) if i["status"]["S"] != "pending"]
        if settled:
            return settled[0]
        time.sleep(0.5)
    pytest.fail(f"no settled item for s3://{UPLOADS_BUCKET}/{key}\n{stack.logs()}")


def assert_red_left_blue_right(rendition: bytes, size: tuple[int, int]) -> None:
    with Image.open(io.BytesIO(rendition)) as image:
        assert (image.format, image.size) == ("JPEG", size)
        middle = size[1] // 2
        left, right = pixel(image, (10, middle)), pixel(image, (size[0] - 10, middle))
    assert left[0] > 200 and left[2] < 60  # still red on the left
    assert right[2] > 200 and right[0] < 60  # and blue on the right


def test_api_upload_is_resized_and_recorded(net: Stack) -> None:
    status, created = api(
        net, "POST", "/images?filename=photo.jpg", red_blue_jpeg((1600, 1200)), "image/jpeg"
    )
    assert status == 202, created

    item = wait_until_settled(net, created["image_id"])

    assert item["status"] == "processed", item
    assert (item["processed_width"], item["processed_height"]) == (500, 375)
    stored = stored_item(net, created["image_id"])
    s3 = net.session().client("s3")
    rendition = s3.get_object(
        Bucket=stored["processed_bucket"]["S"], Key=stored["processed_key"]["S"]
    )
    assert_red_left_blue_right(rendition["Body"].read(), (500, 375))
    downloaded = requests.get(item["download_url"], timeout=30)
    assert downloaded.status_code == 200
    assert_red_left_blue_right(downloaded.content, (500, 375))


def test_presigned_post_upload_is_resized(net: Stack) -> None:
    status, created = api(
        net,
        "POST",
        "/uploads",
        json.dumps({"filename": "big photo.jpg", "content_type": "image/jpeg"}).encode(),
        "application/json",
    )
    assert status == 201, created
    upload = created["upload"]

    sent = requests.post(
        upload["url"],
        data=upload["fields"],
        files={"file": ("big photo.jpg", red_blue_jpeg((2000, 1000)), "image/jpeg")},
        timeout=60,
    )

    assert sent.status_code in (200, 201, 204), sent.text
    item = wait_until_settled(net, created["image_id"])
    assert item["status"] == "processed", item
    assert (item["processed_width"], item["processed_height"]) == (500, 250)


def test_presigned_post_refuses_another_content_type(net: Stack) -> None:
    """LocalStack checks the policy's conditions (not its signature: see the README)."""
    _, created = api(
        net,
        "POST",
        "/uploads",
        json.dumps({"filename": "a.jpg", "content_type": "image/jpeg"}).encode(),
        "application/json",
    )
    upload = created["upload"]
    fields = {**upload["fields"], "Content-Type": "text/html"}

    sent = requests.post(
        upload["url"], data=fields, files={"file": ("a.jpg", b"<html>", "text/html")}, timeout=60
    )

    assert sent.status_code == 403, sent.text
    assert "Policy Condition failed" in sent.text


HOSTILE_KEY = "direct/ünïcödé +&=%20 (1)/<script>alert(1)<\u200b>/photo\u202egpj.jpg"
"""Percent signs, plus and ampersand (S3 events URL-encode keys, ``+`` for a space),
HTML, a zero-width space and a right-to-left override: each must survive the event
encoding and stay inside the processed bucket under the same (cleaned) key."""


def test_direct_put_with_a_hostile_key_is_resized_under_its_own_key(net: Stack) -> None:
    s3 = net.session().client("s3")
    s3.put_object(Bucket=UPLOADS_BUCKET, Key=HOSTILE_KEY, Body=red_blue_jpeg((800, 400)))

    item = wait_for_direct_item(net, HOSTILE_KEY)

    assert item["status"]["S"] == "processed", item
    assert (item["processed_width"]["N"], item["processed_height"]["N"]) == ("500", "250")
    processed_key = item["processed_key"]["S"]
    assert processed_key == HOSTILE_KEY
    rendition = s3.get_object(Bucket=PROCESSED_BUCKET, Key=processed_key)["Body"].read()
    assert_red_left_blue_right(rendition, (500, 250))


def test_a_broken_upload_is_rejected_with_its_reason(net: Stack) -> None:
    whole = red_blue_jpeg((1200, 900))
    status, created = api(
        net, "POST", "/images?filename=cut.jpg", whole[: len(whole) // 3], "image/jpeg"
    )
    assert status == 202, created

    item = wait_until_settled(net, created["image_id"])

    assert item["status"] == "rejected", item
    assert item["error_reason"] == "truncated"
    assert "download_url" not in item
    source_key = stored_item(net, created["image_id"])["source_key"]["S"]
    s3 = net.session().client("s3")
    listed = s3.list_objects_v2(Bucket=PROCESSED_BUCKET, Prefix=source_key)
    assert listed.get("KeyCount", 0) == 0  # no partial output


def test_a_file_that_is_no_image_is_refused_by_the_api(net: Stack) -> None:
    status, answer = api(net, "POST", "/images", b"%PDF-1.7\n%...", "image/jpeg")

    assert status == 415, answer
    assert answer["error"]["code"] == "unsupported_format"


def queue_is_drained(stack: Stack, queue_url: str) -> bool:
    attributes = (
        stack.session()
        .client("sqs")
        .get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
    )
    return all(value == "0" for value in attributes.values())


def test_a_duplicate_event_leaves_one_item_and_one_rendition(net: Stack) -> None:
    key = "direct/twice.jpg"
    s3 = net.session().client("s3")
    s3.put_object(Bucket=UPLOADS_BUCKET, Key=key, Body=red_blue_jpeg((900, 600)))
    first = wait_for_direct_item(net, key)
    assert first["status"]["S"] == "processed"
    head = s3.head_object(Bucket=UPLOADS_BUCKET, Key=key)
    rendition_before = s3.head_object(Bucket=PROCESSED_BUCKET, Key=key)
    duplicate = s3_event_for(
        UPLOADS_BUCKET, key, head, event_time=first["source_event_time"]["S"], sequencer=None
    )
    sqs = net.session().client("sqs")
    queue_url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]

    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(duplicate))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not queue_is_drained(net, queue_url):
        time.sleep(0.5)

    assert queue_is_drained(net, queue_url), net.logs()
    items = items_for_key(net, key)
    assert len(items) == 1
    assert items[0]["updated_at"] == first["updated_at"]  # not rewritten
    rendition_after = s3.head_object(Bucket=PROCESSED_BUCKET, Key=key)
    assert rendition_after["LastModified"] == rendition_before["LastModified"]
    assert rendition_after["ETag"] == rendition_before["ETag"]
