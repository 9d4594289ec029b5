"""Hostile input for the upload API: malformed multipart, lying headers, forged ids/cursors."""

from __future__ import annotations

import base64
import json
import unicodedata
from typing import Any

import pytest

from handlers import api, bootstrap, resize
from handlers.cursor import encode_cursor
from tests.handlers.conftest import Aws, LambdaContext, api_event, jpeg_bytes, load_event
from tests.handlers.test_api import BOUNDARY, assert_error, call

MP = "apigw_post_images_multipart"
MP_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
BIDI_AND_CONTROL = {"\x00", "\u202e", "\u202d", "\u2066", "\u2069", "\r", "\n"}


def form(*parts: tuple[str, bytes], closed: bool = True) -> bytes:
    """A multipart body from (Content-Disposition parameters, data) pairs."""
    body = b""
    for disposition, data in parts:
        head = f"--{BOUNDARY}\r\nContent-Disposition: form-data; {disposition}\r\n\r\n"
        body += head.encode("utf-8") + data + b"\r\n"
    return body + (f"--{BOUNDARY}--\r\n".encode() if closed else b"")


def post_form(body: bytes, context: LambdaContext, **headers: str) -> tuple[int, dict, Any]:
    event = api_event(MP, body=body)
    if headers:  # replace the fixture's Content-Type wholesale (any casing)
        for name in ("headers", "multiValueHeaders"):
            event[name] = {k: v for k, v in event[name].items() if k.lower() != "content-type"}
        for k, v in headers.items():
            event["headers"][k.replace("_", "-")] = v
    return call(event, context)


def stored(aws: Aws, image_id: str) -> tuple[str, bytes, dict[str, Any]]:
    item = aws.item(image_id)
    assert item is not None
    obj = aws.s3.get_object(Bucket=aws.uploads_bucket, Key=item["source_key"])
    return item["source_key"], obj["Body"].read(), item


# ---------------------------------------------------------------- multipart


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            form(('name="file"; filename="a.jpg"', b"A"), ('name="file"; filename="b.jpg"', b"B")),
            "one form field named 'file', got 2",
        ),
        (form(('name="file"; filename="a.jpg"', jpeg_bytes()), closed=False), "closing boundary"),
        (form(('name="photo"; filename="a.jpg"', jpeg_bytes())), "named 'file'"),
        (b"this is not multipart at all", "malformed multipart body"),
    ],
    ids=["two_file_fields", "no_closing_boundary", "no_file_field", "garbage"],
)
def test_malformed_multipart_is_400_and_stores_nothing(
    aws: Aws, context: LambdaContext, body: bytes, message: str
) -> None:
    status, _, answer = post_form(body, context)

    assert_error(status, answer, 400, "bad_request")
    assert message in answer["error"]["message"]
    assert aws.items() == [] and aws.keys(aws.uploads_bucket) == []


@pytest.mark.parametrize(
    "filename",
    [
        "../../etc/passwd",
        "..\\..\\windows\\win.ini",
        "a\x00b.jpg",
        "é" * 500 + ".jpg",
        "evil\u202egpj.exe",
        "\u2066cat\u2069 🐱 photo.jpeg",
        "",
    ],
    ids=["traversal", "backslashes", "nul", "500_chars", "rtl_override", "emoji_isolates", "none"],
)
def test_hostile_filenames_stay_one_safe_segment(
    aws: Aws, context: LambdaContext, filename: str
) -> None:
    data = jpeg_bytes((64, 48))
    disposition = f'name="file"; filename="{filename}"' if filename else 'name="file"'

    status, _, body = post_form(form((disposition, data)), context)

    assert status == 202, body
    image_id = body["image_id"]
    key, content, item = stored(aws, image_id)
    assert content == data
    segment = key.removeprefix(f"uploads/{image_id}/")
    assert segment and "/" not in segment and "\\" not in segment
    assert not segment.startswith(".") and len(key.encode("utf-8")) <= 1024
    assert segment.endswith((".jpg", ".jpeg"))
    name = item["filename"]
    assert name == body["filename"] and 0 < len(name) <= 255
    assert not BIDI_AND_CONTROL & set(name) and "/" not in name and "\\" not in name
    assert unicodedata.is_normalized("NFC", name)


def test_boundary_text_inside_the_image_is_kept(aws: Aws, context: LambdaContext) -> None:
    data = jpeg_bytes((64, 48))
    data = data[:200] + f"--{BOUNDARY}".encode() + data[200:]  # not preceded by CRLF

    status, _, body = post_form(form(('name="file"; filename="a.jpg"', data)), context)

    assert status == 202, body
    assert stored(aws, body["image_id"])[1] == data


def test_many_parts_and_header_casing(aws: Aws, context: LambdaContext) -> None:
    data = jpeg_bytes((32, 32))
    noise = [(f'name="f{i}"', b"x") for i in range(2000)]
    body = form(*noise, ('name="file"; filename="late.jpg"', data))

    content_type = f"Multipart/Form-Data; Boundary={BOUNDARY}"  # type and parameter: any case

    status, _, answer = post_form(body, context, content_type=content_type)

    assert status == 202, answer
    key, content, _ = stored(aws, answer["image_id"])
    assert content == data and key.endswith("/late.jpg")


def test_content_type_that_lies_is_judged_by_content(aws: Aws, context: LambdaContext) -> None:
    data = jpeg_bytes((32, 32))
    event = api_event("apigw_post_images_binary", body=data, headers={"content-type": "text/plain"})

    status, _, body = call(event, context)

    assert status == 202, body
    obj = aws.s3.get_object(Bucket=aws.uploads_bucket, Key=aws.item(body["image_id"])["source_key"])
    assert obj["ContentType"] == "image/jpeg"
    # a raw image announced as multipart is a malformed form, not an image
    status, _, body = post_form(data, context, Content_Type=MP_TYPE)
    assert_error(status, body, 400, "bad_request")


def test_multi_value_headers_only(aws: Aws, context: LambdaContext) -> None:
    data = jpeg_bytes((32, 32))
    event = api_event(MP, body=form(('name="file"; filename="mv.jpg"', data)))
    event["headers"] = None
    event["multiValueHeaders"] = {"content-type": [MP_TYPE]}

    status, _, body = call(event, context)

    assert status == 202, body
    assert stored(aws, body["image_id"])[0].endswith("/mv.jpg")


def test_body_none_is_400_empty(aws: Aws, context: LambdaContext) -> None:
    event = api_event("apigw_post_images_binary")
    event["body"] = None

    status, _, body = call(event, context)

    assert_error(status, body, 400, "empty")
    assert aws.items() == []


# ---------------------------------------------------------------- POST /uploads


@pytest.mark.parametrize("content_type", [[], {}, 5, ["image/jpeg"]])
def test_uploads_content_type_of_wrong_type_is_400(
    aws: Aws, context: LambdaContext, content_type: object
) -> None:
    event = api_event("apigw_post_uploads", body=json.dumps({"content_type": content_type}))

    status, _, body = call(event, context)

    assert_error(status, body, 400, "bad_request")
    assert aws.items() == []


def test_uploads_content_type_is_case_insensitive(aws: Aws, context: LambdaContext) -> None:
    body = json.dumps({"content_type": " IMAGE/PNG ", "filename": "x.png"})

    status, _, answer = call(api_event("apigw_post_uploads", body=body), context)

    assert status == 201, answer
    assert answer["upload"]["fields"]["Content-Type"] == "image/png"
    assert aws.item(answer["image_id"])["original_content_type"] == "image/png"


# ---------------------------------------------------------------- ids, cursors, routing


@pytest.mark.parametrize(
    "image_id",
    ["' OR 1=1 --", "..", "%2e%2e", "a" * 5000, "ÄÖ🐱", "0123456789ABCDEF0123456789ABCDEF"],
    ids=["sql", "dotdot", "encoded_dotdot", "very_long", "unicode", "upper_hex"],
)
def test_malformed_ids_are_404_without_a_lookup(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch, image_id: str
) -> None:
    deps = bootstrap.get_deps("api")

    def no_lookup(**kwargs: object) -> None:
        raise AssertionError("DynamoDB must not be asked about a malformed id")

    monkeypatch.setattr(deps.metadata.client, "get_item", no_lookup)

    status, headers, body = call(api_event("apigw_get_image", path=f"/images/{image_id}"), context)

    assert_error(status, body, 404, "not_found")
    assert headers["Access-Control-Allow-Origin"] == "*"


def test_proxy_resource_events_route_on_path(aws: Aws, context: LambdaContext) -> None:
    _, _, created = call(api_event("apigw_post_images_binary", body=jpeg_bytes()), context)
    image_id = created["image_id"]
    event = api_event("apigw_get_image", path=f"/images/{image_id}")
    event["resource"] = "/{proxy+}"
    event["pathParameters"] = {"proxy": f"images/{image_id}"}

    status, _, body = call(event, context)

    assert status == 200 and body["image_id"] == image_id and body["status"] == "pending"
    assert "download_url" not in body


@pytest.mark.parametrize(
    "cursor",
    [
        base64.urlsafe_b64encode(json.dumps({"image_id": "0" * 32}).encode()).decode(),
        encode_cursor({"image_id": "0" * 32, "listing": "images", "uploaded_at": "yesterday"}),
        "A" * 10_000,
    ],
    ids=["table_key_shape", "bad_timestamp", "huge"],
)
def test_forged_cursors_are_400(aws: Aws, context: LambdaContext, cursor: str) -> None:
    status, _, body = call(api_event("apigw_list_images", query={"cursor": cursor}), context)

    assert_error(status, body, 400, "bad_cursor")


def test_giant_query_string_is_ignored(aws: Aws, context: LambdaContext) -> None:
    query = {"x" * 5000: "y" * 50_000, "limit": "9" * 5000}

    status, _, body = call(api_event("apigw_list_images", query=query), context)

    assert_error(status, body, 400, "bad_request")
    assert len(body["error"]["message"]) < 20_000


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])  # HEAD is GET: test_head.py
def test_other_methods_are_405_with_allow(aws: Aws, context: LambdaContext, method: str) -> None:
    path = "/images/" + "a" * 32
    status, headers, body = call(api_event("apigw_get_image", method=method, path=path), context)

    assert_error(status, body, 405, "method_not_allowed")
    assert headers["Allow"] == "GET, OPTIONS"
    assert headers["Access-Control-Allow-Origin"] == "*"


def test_options_on_unknown_path_is_404(aws: Aws, context: LambdaContext) -> None:
    event = load_event("apigw_options_preflight")
    event["path"] = "/admin"

    status, headers, body = call(event, context)

    assert_error(status, body, 404, "not_found")
    assert "Access-Control-Allow-Methods" not in headers


def test_disallowed_origin_gets_no_allow_origin_anywhere(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "https://app.example.com")
    bootstrap.reset()
    evil = "https://app.example.com.evil.net"
    preflight = load_event("apigw_options_preflight")
    preflight["headers"] = {k: v for k, v in preflight["headers"].items() if k.lower() != "origin"}
    preflight["headers"]["ORIGIN"] = evil
    error = api_event("apigw_get_image", method="PUT", headers={"origin": evil})

    for event in (preflight, error):
        response = api.handler(event, context)
        assert "Access-Control-Allow-Origin" not in response["headers"]
        assert response["headers"]["Vary"] == "Origin"


def test_rejected_item_has_reason_and_no_download_url(aws: Aws, context: LambdaContext) -> None:
    broken = b"\xff\xd8\xff\xe0" + b"\x00" * 64  # sniffs as JPEG, does not decode
    _, _, created = call(api_event("apigw_post_images_binary", body=broken), context)
    image_id = created["image_id"]
    stored = aws.item(image_id)
    metadata = {"image-id": image_id, "upload-token": stored["upload_token"]}
    resize.handler(aws.put(stored["source_key"], broken, Metadata=metadata), context)

    status, _, body = call(api_event("apigw_get_image", path=f"/images/{image_id}"), context)

    assert status == 200
    assert body["status"] == "rejected"
    assert body["error_reason"] in {"truncated", "corrupt"} and body["error_message"]
    assert "download_url" not in body and "processed_key" not in body
