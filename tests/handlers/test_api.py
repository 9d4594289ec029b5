"""The upload API under moto, driven by documented API Gateway REST proxy events."""

from __future__ import annotations

import base64
import io
import json
import time
import warnings
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from PIL import Image

from handlers import api, bootstrap, resize
from handlers.cursor import encode_cursor
from handlers.http import DEFAULT_ALLOW_HEADERS
from imgproc.errors import TOO_LARGE, UNSUPPORTED_FORMAT
from tests.handlers.conftest import (
    Aws,
    LambdaContext,
    api_event,
    jpeg_bytes,
    load_event,
    s3_event,
)

BOUNDARY = "------------------------d74496d66958873e"  # as in the fixture (curl's style)
MP = "apigw_post_images_multipart"
MP_X = "multipart/form-data; boundary=x"


def call(event: dict[str, Any], context: LambdaContext) -> tuple[int, dict[str, str], Any]:
    """Invoke the API handler; returns (status, headers, parsed JSON body or None)."""
    response = api.handler(event, context)
    assert set(response) >= {"statusCode", "headers", "body"}
    body = json.loads(response["body"]) if response["body"] else None
    return response["statusCode"], response["headers"], body


def multipart_body(data: bytes, *, filename: str = "photo.jpg", field: str = "file") -> bytes:
    return (
        (
            f"--{BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="note"\r\n\r\nhello\r\n'
            f"--{BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def assert_error(status: int, body: Any, expected_status: int, code: str | None = None) -> None:
    assert status == expected_status, body
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code


# ---------------------------------------------------------------- POST /images


def test_post_images_base64_body(aws: Aws, context: LambdaContext) -> None:
    data = jpeg_bytes((900, 600))
    event = api_event("apigw_post_images_binary", body=data, headers={"Content-Type": "image/jpeg"})

    status, headers, body = call(event, context)

    assert status == 202
    image_id = body["image_id"]
    assert len(image_id) == 32 and int(image_id, 16) >= 0
    assert body["status"] == "pending"
    assert body["status_url"] == f"/images/{image_id}" == headers["Location"]
    assert headers["Access-Control-Allow-Origin"] == "*"
    key = f"uploads/{image_id}/image.jpg"
    obj = aws.s3.get_object(Bucket=aws.uploads_bucket, Key=key)
    assert obj["Body"].read() == data
    assert obj["ContentType"] == "image/jpeg"
    assert obj["Metadata"]["image-id"] == image_id
    item = aws.item(image_id)
    assert item["status"] == "pending"
    assert item["source_bucket"] == aws.uploads_bucket
    assert item["source_key"] == key
    assert item["original_size_bytes"] == len(data)
    assert item["uploaded_at"].endswith("Z")


def test_post_images_documented_fixture_as_is(aws: Aws, context: LambdaContext) -> None:
    status, _, body = call(load_event("apigw_post_images_binary"), context)

    assert status == 202
    assert aws.item(body["image_id"])["original_content_type"] == "image/png"


def test_post_images_multipart_like_curl(aws: Aws, context: LambdaContext) -> None:
    data = jpeg_bytes((640, 480))
    event = api_event(
        "apigw_post_images_multipart", body=multipart_body(data, filename="Été à Paris.JPG")
    )

    status, _, body = call(event, context)

    assert status == 202
    image_id = body["image_id"]
    item = aws.item(image_id)
    assert item["filename"] == "Été à Paris.JPG"
    assert item["source_key"] == f"uploads/{image_id}/Été_à_Paris.JPG"
    stored = aws.s3.get_object(Bucket=aws.uploads_bucket, Key=item["source_key"])
    assert stored["Body"].read() == data


def test_multipart_upload_then_resize_updates_same_item(aws: Aws, context: LambdaContext) -> None:
    """What a new user does: curl -F file=@photo.jpg, then S3 notifies the resize function."""
    event = api_event("apigw_post_images_multipart", body=multipart_body(jpeg_bytes((1000, 800))))
    _, _, created = call(event, context)
    image_id = created["image_id"]
    item = aws.item(image_id)
    head = aws.s3.head_object(Bucket=aws.uploads_bucket, Key=item["source_key"])
    s3 = s3_event(aws.uploads_bucket, item["source_key"], etag=head["ETag"].strip('"'))
    resize.handler(s3, context)

    status, _, body = call(api_event("apigw_get_image", path=f"/images/{image_id}"), context)
    assert status == 200
    assert body["image_id"] == image_id
    assert body["status"] == "processed"
    assert body["filename"] == "photo.jpg"
    assert (body["processed_width"], body["processed_height"]) == (500, 400)
    stored = aws.item(image_id)
    assert stored["processed_key"] == f"uploads/{image_id}/photo.jpg"
    assert body["uploaded_at"] == item["uploaded_at"]
    internals = ("listing", "source_revision", "source_bucket", "source_key", "processed_key")
    assert not set(internals) & set(body)
    assert not {"processed_bucket", "source_etag", "owner", "upload_token"} & set(body)
    url = urlsplit(body["download_url"])
    assert stored["processed_key"] in url.path
    assert "X-Amz-Signature" in parse_qs(url.query)
    assert parse_qs(url.query)["X-Amz-Expires"] == ["900"]
    assert len(aws.items()) == 1
    rendition = aws.s3.get_object(Bucket=aws.processed_bucket, Key=stored["processed_key"])
    assert Image.open(io.BytesIO(rendition["Body"].read())).size == (500, 400)


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"just some text, not an image", {"Content-Type": "text/plain"}),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", {"Content-Type": "image/jpeg"}),  # lies about type
        (
            multipart_body(b"<html>nope</html>"),
            {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        ),
    ],
    ids=["text", "pdf_claiming_jpeg", "multipart_html"],
)
def test_post_images_non_image_is_415(
    aws: Aws, context: LambdaContext, body: bytes, headers: dict[str, str]
) -> None:
    event = api_event("apigw_post_images_binary", body=body, headers=headers)

    status, resp_headers, payload = call(event, context)

    assert_error(status, payload, 415, UNSUPPORTED_FORMAT)
    assert resp_headers["Access-Control-Allow-Origin"] == "*"
    assert aws.items() == []
    assert aws.keys(aws.uploads_bucket) == []


def test_form_urlencoded_body_gets_a_415_that_says_how_to_send_an_image(
    aws: Aws, context: LambdaContext
) -> None:
    # curl --data-binary without -H Content-Type: API Gateway passes the body as text.
    event = api_event(
        "apigw_post_images_binary",
        body="\ufffd\ufffd\ufffdJFIF garbled",
        base64_body=False,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    status, _headers, payload = call(event, context)

    assert_error(status, payload, 415, UNSUPPORTED_FORMAT)
    assert "Content-Type: image/jpeg" in payload["error"]["message"]
    assert "-F file=@" in payload["error"]["message"]
    assert aws.keys(aws.uploads_bucket) == []


@pytest.mark.parametrize("multipart", [False, True], ids=["raw", "multipart"])
def test_post_images_too_large_is_413_pointing_to_uploads(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch, multipart: bool
) -> None:
    monkeypatch.setenv("API_MAX_BODY_BYTES", "5000")
    bootstrap.reset()
    data = jpeg_bytes((800, 800), color=(1, 2, 3))[:4000] + bytes(range(256)) * 20  # > 5,000
    name = "apigw_post_images_multipart" if multipart else "apigw_post_images_binary"
    event = api_event(name, body=multipart_body(data) if multipart else data)

    status, _, body = call(event, context)

    assert_error(status, body, 413, TOO_LARGE)
    assert "POST /uploads" in body["error"]["message"]
    assert "5000" in body["error"]["message"]
    assert aws.items() == []


@pytest.mark.parametrize(
    ("fixture", "event_kwargs", "status", "code"),
    [
        ("apigw_post_images_binary", {"body": "", "base64_body": False}, 400, "empty"),
        ("apigw_post_images_binary", {"body": "plain text", "base64_body": False}, 415, None),
        (MP, {"body": multipart_body(jpeg_bytes(), field="image")}, 400, "bad_request"),
        (MP, {"body": b"--x\r\nbroken", "headers": {"Content-Type": MP_X}}, 400, "bad_request"),
        (MP, {"headers": {"Content-Type": "multipart/form-data"}}, 400, "bad_request"),
    ],
    ids=["empty", "text_body", "wrong_field", "broken_multipart", "no_boundary"],
)
def test_post_images_bad_requests(
    aws: Aws,
    context: LambdaContext,
    fixture: str,
    event_kwargs: dict[str, Any],
    status: int,
    code: str | None,
) -> None:
    event = api_event(fixture, **event_kwargs)

    got, _, body = call(event, context)

    assert_error(got, body, status, code)
    assert aws.items() == []


def test_invalid_base64_is_400(aws: Aws, context: LambdaContext) -> None:
    event = api_event("apigw_post_images_binary")
    event["body"] = "%%% definitely not base64 %%%"

    status, _, body = call(event, context)

    assert_error(status, body, 400, "bad_request")


# ---------------------------------------------------------------- POST /uploads


def _policy(fields: dict[str, str]) -> dict[str, Any]:
    return json.loads(base64.b64decode(fields["policy"]))


def test_post_uploads_presigned_post_policy(aws: Aws, context: LambdaContext) -> None:
    status, headers, body = call(load_event("apigw_post_uploads"), context)

    assert status == 201
    image_id = body["image_id"]
    key = f"uploads/{image_id}/holiday_photo.jpg"
    assert body["key"] == key
    assert headers["Location"] == body["status_url"] == f"/images/{image_id}"
    fields = body["upload"]["fields"]
    assert fields["key"] == key
    assert fields["Content-Type"] == "image/jpeg"
    assert fields["x-amz-meta-image-id"] == image_id
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    policy = _policy(fields)
    conditions = policy["conditions"]
    assert ["content-length-range", 1, 7 * 1024 * 1024] in conditions  # the announced size
    token = body["upload"]["fields"]["x-amz-meta-upload-token"]
    assert {"x-amz-meta-upload-token": token} in conditions
    assert {"x-amz-meta-owner": "anonymous"} in conditions
    assert aws.item(image_id)["upload_token"] == token
    assert {"Content-Type": "image/jpeg"} in conditions
    assert {"key": key} in conditions
    assert {"bucket": aws.uploads_bucket} in conditions
    assert {"x-amz-meta-image-id": image_id} in conditions
    expires = time.mktime(time.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ"))
    now = time.mktime(time.gmtime())
    assert 240 <= expires - now <= 310
    assert body["expires_in_s"] == 300
    assert aws.uploads_bucket in body["upload"]["url"]
    item = aws.item(image_id)
    assert (item["status"], item["filename"], item["source_key"]) == (
        "pending",
        "holiday photo.jpg",
        key,
    )


def test_post_uploads_without_body_allows_any_image_type(aws: Aws, context: LambdaContext) -> None:
    event = api_event("apigw_post_uploads")
    event["body"] = None

    status, _, body = call(event, context)

    assert status == 201
    conditions = _policy(body["upload"]["fields"])["conditions"]
    assert ["starts-with", "$Content-Type", "image/"] in conditions
    assert body["key"] == f"uploads/{body['image_id']}/image"


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"size_bytes": 52428801}, 413, TOO_LARGE),
        ({"content_type": "application/pdf"}, 415, UNSUPPORTED_FORMAT),
        ({"size_bytes": -1}, 400, "bad_request"),
        ("[1, 2]", 400, "bad_request"),
        ("{not json", 400, "bad_request"),
    ],
    ids=["too_big", "pdf", "negative_size", "not_object", "not_json"],
)
def test_post_uploads_errors(
    aws: Aws, context: LambdaContext, payload: Any, status: int, code: str
) -> None:
    raw = payload if isinstance(payload, str) else json.dumps(payload)
    event = api_event("apigw_post_uploads", body=raw)

    got, _, body = call(event, context)

    assert_error(got, body, status, code)
    assert aws.items() == []


def test_presigned_upload_then_resize(aws: Aws, context: LambdaContext) -> None:
    """Upload with the presigned form as a browser would (moto accepts it), then resize."""
    _, _, body = call(load_event("apigw_post_uploads"), context)
    upload = body["upload"]
    fields = upload["fields"]
    form = requests.post(
        upload["url"], data=fields, files={"file": ("x.jpg", jpeg_bytes((700, 1400)))}, timeout=10
    )
    assert form.status_code in (200, 201, 204)
    head = aws.s3.head_object(Bucket=aws.uploads_bucket, Key=fields["key"])
    assert head["Metadata"]["image-id"] == body["image_id"]
    assert head["ContentType"] == "image/jpeg"

    resize.handler(
        s3_event(aws.uploads_bucket, fields["key"], etag=head["ETag"].strip('"')), context
    )

    item = aws.item(body["image_id"])
    assert item["status"] == "processed"
    assert item["filename"] == "holiday photo.jpg"
    assert (item["processed_width"], item["processed_height"]) == (250, 500)
    assert len(aws.items()) == 1


# ---------------------------------------------------------------- GET


def test_get_unknown_and_malformed_ids_are_404(aws: Aws, context: LambdaContext) -> None:
    for path in ("/images/0123456789abcdef0123456789abcdef", "/images/..%2F..%2Fetc"):
        status, _, body = call(api_event("apigw_get_image", path=path), context)
        assert_error(status, body, 404, "not_found")


def test_get_pending_image_has_no_download_url(aws: Aws, context: LambdaContext) -> None:
    _, _, created = call(api_event("apigw_post_images_binary", body=jpeg_bytes()), context)

    status, _, body = call(
        api_event("apigw_get_image", path=f"/images/{created['image_id']}"), context
    )

    assert status == 200
    assert body["status"] == "pending"
    assert "download_url" not in body
    assert isinstance(body["original_size_bytes"], int)


def _seed(aws: Aws, count: int) -> list[str]:
    ids = []
    for i in range(count):
        image_id = f"{i:032x}"
        aws.dynamodb.put_item(
            TableName=aws.table,
            Item={
                "image_id": {"S": image_id},
                "status": {"S": "pending"},
                "listing": {"S": "images"},
                "uploaded_at": {"S": f"2024-01-01T00:00:{i:02d}.000Z"},
                "original_size_bytes": {"N": str(1000 + i)},
            },
        )
        ids.append(image_id)
    return ids


def test_list_newest_first_with_cursor(aws: Aws, context: LambdaContext) -> None:
    ids = _seed(aws, 5)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        status, _, body = call(api_event("apigw_list_images", query=query), context)
        assert status == 200
        assert len(body["items"]) <= 2
        seen += [item["image_id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
        assert "=" not in cursor and "+" not in cursor and "/" not in cursor
    assert seen == list(reversed(ids))
    assert pages in (3, 4)  # DynamoDB may answer one empty last page
    first = call(api_event("apigw_list_images", query={}), context)[2]
    assert [i["image_id"] for i in first["items"]] == list(reversed(ids))
    assert first["items"][0]["original_size_bytes"] == 1004


@pytest.mark.parametrize(("limit", "expected"), [("0", 1), ("1", 1), ("1000", 5), ("-5", 1)])
def test_list_limit_is_clamped(aws: Aws, context: LambdaContext, limit: str, expected: int) -> None:
    _seed(aws, 5)

    _, _, body = call(api_event("apigw_list_images", query={"limit": limit}), context)

    assert len(body["items"]) == expected


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!!",
        base64.urlsafe_b64encode(b"[1,2,3]").decode(),
        encode_cursor(
            {"image_id": "x", "listing": "images", "uploaded_at": "2024-01-01T00:00:00Z"}
        ),
        encode_cursor({"image_id": "0" * 32, "listing": "other", "uploaded_at": "2024"}),
        encode_cursor(
            {
                "image_id": "0" * 32,
                "listing": "images",
                "uploaded_at": "2024-01-01T00:00:00Z",
                "x": "1",
            }
        ),
    ],
    ids=["garbage", "json_list", "bad_id", "bad_listing", "extra_key"],
)
def test_list_bad_cursor_is_400(aws: Aws, context: LambdaContext, cursor: str) -> None:
    status, _, body = call(api_event("apigw_list_images", query={"cursor": cursor}), context)

    assert_error(status, body, 400, "bad_cursor")


def test_list_bad_limit_is_400(aws: Aws, context: LambdaContext) -> None:
    status, _, body = call(api_event("apigw_list_images", query={"limit": "ten"}), context)

    assert_error(status, body, 400, "bad_request")


# ---------------------------------------------------------------- routing, CORS, failures


def test_options_preflight(aws: Aws, context: LambdaContext) -> None:
    response = api.handler(load_event("apigw_options_preflight"), context)

    assert response["statusCode"] == 204
    headers = response["headers"]
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Access-Control-Allow-Methods"] == "GET,POST,OPTIONS"
    # the fixed allow-list, never the request's Access-Control-Request-Headers echoed
    assert headers["Access-Control-Allow-Headers"] == DEFAULT_ALLOW_HEADERS
    assert int(headers["Access-Control-Max-Age"]) > 0


def test_cors_allow_list(aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "https://app.example.com, https://admin.example.com")
    bootstrap.reset()
    allowed = api_event("apigw_list_images", headers={"Origin": "https://app.example.com"})
    other = api_event("apigw_list_images", headers={"Origin": "https://evil.example.net"})

    _, allowed_headers, _ = call(allowed, context)
    _, other_headers, _ = call(other, context)
    preflight = api.handler(load_event("apigw_options_preflight"), context)

    assert allowed_headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert allowed_headers["Vary"] == "Origin"
    assert "Access-Control-Allow-Origin" not in other_headers
    assert other_headers["Vary"] == "Origin"
    assert preflight["headers"]["Access-Control-Allow-Origin"] == "https://app.example.com"


def test_unknown_route_404_and_wrong_method_405(aws: Aws, context: LambdaContext) -> None:
    status, headers, body = call(api_event("apigw_list_images", path="/nope"), context)
    assert_error(status, body, 404, "not_found")
    assert headers["Access-Control-Allow-Origin"] == "*"

    status, headers, body = call(api_event("apigw_list_images", method="DELETE"), context)
    assert_error(status, body, 405, "method_not_allowed")
    assert headers["Allow"] == "GET, POST, OPTIONS"

    status, _, body = call(
        api_event("apigw_get_image", method="POST", path="/images/" + "a" * 32), context
    )
    assert_error(status, body, 405)


def test_unexpected_error_is_500_without_details(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    deps = bootstrap.get_deps("api")

    def explode(**kwargs: object) -> None:
        raise RuntimeError("secret connection string abc123")

    monkeypatch.setattr(deps.metadata.client, "get_item", explode)

    status, headers, body = call(api_event("apigw_get_image"), context)

    assert_error(status, body, 500, "internal_error")
    assert "secret" not in json.dumps(body) and "Traceback" not in json.dumps(body)
    assert headers["Access-Control-Allow-Origin"] == "*"


def test_throttled_dependency_is_503(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.exceptions

    deps = bootstrap.get_deps("api")

    def throttled(**kwargs: object) -> None:
        raise botocore.exceptions.ClientError(
            {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Query"
        )

    monkeypatch.setattr(deps.metadata.client, "query", throttled)

    status, headers, body = call(api_event("apigw_list_images"), context)

    assert_error(status, body, 503, "service_unavailable")
    assert headers["Retry-After"] == "1"


def test_failed_store_marks_item_failed(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.exceptions

    deps = bootstrap.get_deps("api")

    def slow(**kwargs: object) -> None:
        raise botocore.exceptions.ClientError(
            {"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}},
            "PutObject",
        )

    monkeypatch.setattr(deps.objects.client, "put_object", slow)

    status, _, body = call(api_event("apigw_post_images_binary", body=jpeg_bytes()), context)

    assert_error(status, body, 503)
    (item,) = aws.items()
    assert (item["status"], item["error_reason"]) == ("failed", "upload_failed")


def test_get_without_metrics_does_not_warn(aws: Aws, context: LambdaContext) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        status, _, _ = call(api_event("apigw_list_images"), context)
    assert status == 200


def test_public_endpoint_signs_client_urls(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUBLIC_S3_ENDPOINT_URL", "http://localhost:4566")
    monkeypatch.setenv("S3_ADDRESSING_STYLE", "path")
    bootstrap.reset()

    _, _, body = call(load_event("apigw_post_uploads"), context)

    assert body["upload"]["url"] == f"http://localhost:4566/{aws.uploads_bucket}"


def test_malformed_event_is_a_500_not_a_crash(aws: Aws, context: LambdaContext) -> None:
    event = load_event("apigw_list_images")
    event["headers"] = ["not", "a", "mapping"]

    status, _, body = call(event, context)

    assert_error(status, body, 500, "internal_error")
