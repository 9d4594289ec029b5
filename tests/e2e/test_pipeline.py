"""The whole local pipeline over real HTTP on loopback (python -m deploy.local, ports 0).

Asserts on what the pipeline produced: items in the table, objects and pixels of the
renditions, downloaded through the presigned URLs the API hands out.
"""

from __future__ import annotations

import io
import json
from typing import Any
from urllib.parse import quote_plus

import requests
from PIL import Image

from tests.e2e.conftest import quadrant_jpeg, wait_until

FINAL = {"processed", "rejected", "failed"}
TIMEOUT_S = 30


def wait_final(api_url: str, image_id: str) -> dict[str, Any]:
    """Poll GET /images/{id} until the status is final; the item."""

    def final() -> dict[str, Any] | None:
        response = requests.get(f"{api_url}/images/{image_id}", timeout=10)
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        item = response.json()
        return item if item["status"] in FINAL else None

    return wait_until(final, TIMEOUT_S, interval_s=0.1)


def rendition_url(item: dict[str, Any]) -> str:
    for name in ("download_url", "processed_url", "rendition_url", "url"):
        if item.get(name):
            return item[name]
    raise AssertionError(f"no rendition URL in {sorted(item)}")


def assert_quadrants(data: bytes, size: tuple[int, int]) -> None:
    """The rendition is a JPEG of ``size`` whose quadrants keep their colours (±40)."""
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG" and image.mode == "RGB"
    assert image.size == size
    w, h = size
    expected = {
        (w // 4, h // 4): (255, 0, 0),
        (3 * w // 4, h // 4): (0, 255, 0),
        (w // 4, 3 * h // 4): (0, 0, 255),
        (3 * w // 4, 3 * h // 4): (255, 255, 255),
    }
    for xy, colour in expected.items():
        actual = image.getpixel(xy)
        assert all(abs(a - e) <= 40 for a, e in zip(actual, colour, strict=True)), (xy, actual)


def assert_processed(
    pipeline: dict[str, Any],
    item: dict[str, Any],
    *,
    original: tuple[int, int],
    rendition: tuple[int, int],
) -> bytes:
    assert item["status"] == "processed", item
    assert (item["original_width"], item["original_height"]) == original
    assert (item["processed_width"], item["processed_height"]) == rendition
    # the public view: no bucket names, keys or owner; the rendition only by its URL
    assert not {"processed_bucket", "processed_key", "source_bucket", "source_key"} & set(item)
    assert not {"owner", "upload_token", "source_etag"} & set(item)
    download = requests.get(rendition_url(item), timeout=10)
    assert download.status_code == 200
    assert len(download.content) == item["processed_size_bytes"]
    assert_quadrants(download.content, rendition)
    return download.content


def stored_item(dynamodb: Any, table: str, image_id: str) -> dict[str, Any]:
    """The table's item (internals included), plain strings and numbers."""
    raw = dynamodb.get_item(TableName=table, Key={"image_id": {"S": image_id}})["Item"]
    return {k: next(iter(v.values())) for k, v in raw.items()}


def test_multipart_upload_processed_and_downloadable(
    pipeline: dict[str, Any], s3: Any, dynamodb: Any
) -> None:
    data = quadrant_jpeg((1600, 1200))
    response = requests.post(
        f"{pipeline['api_url']}/images",
        files={"file": ("holiday photo.jpg", data, "image/jpeg")},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    image_id = response.json()["image_id"]
    assert len(image_id) == 32

    item = wait_final(pipeline["api_url"], image_id)
    rendition = assert_processed(pipeline, item, original=(1600, 1200), rendition=(500, 375))
    assert item["original_size_bytes"] == len(data)
    internal = stored_item(dynamodb, pipeline["table"], image_id)
    assert internal["source_bucket"] == pipeline["uploads_bucket"]
    assert internal["source_key"].startswith(f"uploads/{image_id}/")
    assert internal["owner"] == "anonymous"  # AUTH_MODE none
    stored = s3.get_object(Bucket=pipeline["processed_bucket"], Key=internal["processed_key"])
    assert stored["Body"].read() == rendition
    assert stored["ContentType"] == "image/jpeg"


def test_raw_body_upload(pipeline: dict[str, Any]) -> None:
    data = quadrant_jpeg((800, 1000))
    response = requests.post(
        f"{pipeline['api_url']}/images",
        data=data,
        headers={"Content-Type": "image/jpeg"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    item = wait_final(pipeline["api_url"], response.json()["image_id"])
    assert_processed(pipeline, item, original=(800, 1000), rendition=(400, 500))


def test_presigned_post_upload(pipeline: dict[str, Any]) -> None:
    data = quadrant_jpeg((1000, 1000))
    response = requests.post(
        f"{pipeline['api_url']}/uploads",
        json={"filename": "big.jpg", "content_type": "image/jpeg"},
        timeout=10,
    )
    assert response.status_code in (200, 201), response.text
    grant = response.json()
    post = grant.get("upload", grant)
    assert post["url"].startswith(pipeline["endpoint_url"])
    sent = requests.post(
        post["url"],
        data=post["fields"],
        files={"file": ("big.jpg", data, "image/jpeg")},
        timeout=10,
    )
    assert sent.status_code in (200, 201, 204), sent.text
    item = wait_final(pipeline["api_url"], grant["image_id"])
    assert_processed(pipeline, item, original=(1000, 1000), rendition=(500, 500))


def test_direct_s3_put_with_hostile_key(pipeline: dict[str, Any], s3: Any, dynamodb: Any) -> None:
    key = "incoming/my holiday + ünïcode 写真 (1).jpg"
    s3.put_object(
        Bucket=pipeline["uploads_bucket"],
        Key=key,
        Body=quadrant_jpeg((640, 480)),
        ContentType="image/jpeg",
    )

    def item_for_key() -> dict[str, Any] | None:
        found = dynamodb.scan(
            TableName=pipeline["table"],
            FilterExpression="source_key = :k",
            ExpressionAttributeValues={":k": {"S": key}},
        )["Items"]
        if found and found[0]["status"]["S"] in FINAL:
            return found[0]
        return None

    raw = wait_until(item_for_key, TIMEOUT_S)
    item = wait_final(pipeline["api_url"], raw["image_id"]["S"])
    assert raw["source_key"]["S"] == key and "source_key" not in item
    assert_processed(pipeline, item, original=(640, 480), rendition=(500, 375))


def test_rejected_upload_records_its_reason(
    pipeline: dict[str, Any], s3: Any, dynamodb: Any
) -> None:
    # A JPEG cut in half: the API accepts the bytes (it sniffs a JPEG), the engine refuses.
    data = quadrant_jpeg((1200, 900))[:3000]
    response = requests.post(
        f"{pipeline['api_url']}/images", files={"file": ("cut.jpg", data, "image/jpeg")}, timeout=10
    )
    assert response.status_code == 202, response.text
    item = wait_final(pipeline["api_url"], response.json()["image_id"])
    assert item["status"] == "rejected"
    assert item["error_reason"] in {"truncated", "corrupt"}
    assert item["error_message"]
    listed = s3.list_objects_v2(Bucket=pipeline["processed_bucket"])
    assert not any(
        o["Key"].startswith(
            stored_item(dynamodb, pipeline["table"], item["image_id"])["source_key"].rsplit(".")[0]
        )
        for o in listed.get("Contents", [])
    )


def test_duplicate_notification_gives_one_item_and_one_rendition(
    pipeline: dict[str, Any], s3: Any, sqs: Any, dynamodb: Any
) -> None:
    key = "dupes/twice delivered.jpg"
    s3.put_object(
        Bucket=pipeline["uploads_bucket"],
        Key=key,
        Body=quadrant_jpeg((900, 600)),
        ContentType="image/jpeg",
    )
    head = s3.head_object(Bucket=pipeline["uploads_bucket"], Key=key)

    def items() -> list[dict[str, Any]]:
        return dynamodb.scan(
            TableName=pipeline["table"],
            FilterExpression="source_key = :k",
            ExpressionAttributeValues={":k": {"S": key}},
        )["Items"]

    first = wait_until(lambda: [i for i in items() if i["status"]["S"] == "processed"], TIMEOUT_S)[
        0
    ]
    processed_at = first["processed_at"]["S"]
    # S3 delivers at least once: replay the same notification, twice.
    event = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": pipeline["region"],
                "eventTime": "2030-01-01T00:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "resize-on-upload",
                    "bucket": {
                        "name": pipeline["uploads_bucket"],
                        "arn": f"arn:aws:s3:::{pipeline['uploads_bucket']}",
                    },
                    "object": {
                        "key": quote_plus(key),
                        "size": head["ContentLength"],
                        "eTag": head["ETag"].strip('"'),
                    },
                },
            }
        ]
    }
    for _ in range(2):
        sqs.send_message(QueueUrl=pipeline["queue_url"], MessageBody=json.dumps(event))
    wait_until(lambda: _queue_empty(sqs, pipeline["queue_url"]), TIMEOUT_S)

    after = items()
    assert len(after) == 1
    assert after[0]["processed_at"]["S"] == processed_at  # not processed again
    renditions = s3.list_objects_v2(Bucket=pipeline["processed_bucket"], Prefix="dupes/")
    assert [o["Key"] for o in renditions["Contents"]] == [first["processed_key"]["S"]]


def _queue_empty(sqs: Any, queue_url: str) -> bool:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return all(v == "0" for v in attributes.values())


def test_listing_shows_recent_images(pipeline: dict[str, Any]) -> None:
    response = requests.post(
        f"{pipeline['api_url']}/images",
        files={"file": ("listed.jpg", quadrant_jpeg((600, 600)), "image/jpeg")},
        timeout=10,
    )
    image_id = response.json()["image_id"]
    wait_final(pipeline["api_url"], image_id)
    listing = requests.get(f"{pipeline['api_url']}/images", timeout=10)
    assert listing.status_code == 200
    body = listing.json()
    items = body.get("items", body.get("images"))
    assert image_id in [i["image_id"] for i in items]


def test_oversized_body_is_413_with_one_message_whoever_refuses(
    pipeline: dict[str, Any],
) -> None:
    """Just over the limit the handler refuses; further over, the front (the API's limit,
    the 10 MB cap): the same 413, the same words, the README's 4.5 MB."""
    messages = set()
    for size in (4_520_000, 5_000_000, 10 * 1024 * 1024 + 1):
        response = requests.post(
            f"{pipeline['api_url']}/images",
            data=b"\xff" * size,
            headers={"Content-Type": "image/jpeg", "Origin": pipeline["api_url"]},
            timeout=30,
        )
        assert response.status_code == 413, size
        # the front's own origin is allowed by default (no "*")
        assert response.headers["Access-Control-Allow-Origin"] == pipeline["api_url"]
        error = response.json()["error"]
        assert error["code"] == "too_large"  # the engine's reason code, as the API's own 413
        messages.add(error["message"])
    assert messages == {
        "POST /images accepts images of at most 4500000 bytes; request a presigned upload "
        "with POST /uploads for files up to 20971520 bytes"
    }
