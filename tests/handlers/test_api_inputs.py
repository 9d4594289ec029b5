"""Inputs that once answered 500 or misled (issue 9): each a clean answer in the error shape."""

from __future__ import annotations

import json

import pytest

from handlers import bootstrap
from handlers.uploads import display_name, too_large_message
from tests.handlers.conftest import Aws, LambdaContext, api_event, jpeg_bytes
from tests.handlers.test_api import BOUNDARY, assert_error, call, multipart_body

MP = "apigw_post_images_multipart"


def with_content_type(event: dict, value: str) -> dict:
    """``event`` with its Content-Type header replaced (any casing) by ``value``."""
    for name in ("headers", "multiValueHeaders"):
        event[name] = {k: v for k, v in event[name].items() if k.lower() != "content-type"}
    event["headers"]["Content-Type"] = value
    event["multiValueHeaders"]["Content-Type"] = [value]
    return event


@pytest.mark.parametrize(
    "body", ["[" * 100_000, '{"a": ' * 100_000 + "1" + "}" * 100_000], ids=["array", "object"]
)
def test_deeply_nested_json_to_post_uploads_is_a_400(
    aws: Aws, context: LambdaContext, body: str
) -> None:
    status, _, payload = call(api_event("apigw_post_uploads", body=body), context)

    assert_error(status, payload, 400, "bad_request")
    assert "nested too deeply" in payload["error"]["message"]
    assert aws.items() == []


def test_a_multipart_boundary_over_256_characters_is_a_400(
    aws: Aws, context: LambdaContext
) -> None:
    boundary = "b" * 300
    body = multipart_body(jpeg_bytes()).replace(BOUNDARY.encode(), boundary.encode())
    event = with_content_type(api_event(MP, body=body), f"multipart/form-data; boundary={boundary}")

    status, _, payload = call(event, context)

    assert_error(status, payload, 400, "bad_request")
    assert "Boundary length 300 exceeds maximum of 256" in payload["error"]["message"]
    assert aws.items() == [] and aws.keys(aws.uploads_bucket) == []


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data; boundary=€uro",
        "image/jpeg; name=ƒoto",
        "multipart/form-data; boundary=日本",
    ],
)
def test_a_content_type_outside_latin_1_is_a_400(
    aws: Aws, context: LambdaContext, content_type: str
) -> None:
    event = with_content_type(api_event(MP, body=multipart_body(jpeg_bytes())), content_type)

    status, _, payload = call(event, context)

    assert_error(status, payload, 400, "bad_request")
    assert "outside Latin-1" in payload["error"]["message"]
    assert aws.items() == []


def test_a_long_filename_keeps_its_extension(aws: Aws, context: LambdaContext) -> None:
    name = "x" * 2000 + ".jpg"
    raw = json.dumps({"filename": name, "content_type": "image/jpeg"})

    status, _, body = call(api_event("apigw_post_uploads", body=raw), context)

    assert status == 201
    item = aws.item(body["image_id"])
    assert item is not None
    assert item["filename"] == "x" * 251 + ".jpg"
    assert body["key"].endswith(".jpg") and len(body["key"].encode()) < 300


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("a" * 300 + ".jpeg", "a" * 250 + ".jpeg"),
        ("a" * 300, "a" * 255),  # no extension: cut
        ("a" * 250 + "." + "b" * 40, ("a" * 250 + "." + "b" * 40)[:255]),  # not an extension
        ("photo.jpg", "photo.jpg"),
    ],
    ids=["long_jpeg", "no_extension", "long_suffix", "short"],
)
def test_display_name_shortens_the_stem(name: str, shown: str) -> None:
    assert display_name(name) == shown


def test_post_images_has_one_limit_and_one_message(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_MAX_BODY_BYTES", "4500000")
    bootstrap.reset()
    settings = bootstrap.get_deps("api").settings
    expected = too_large_message(4_500_000, settings.upload_max_bytes)
    just_over = jpeg_bytes((64, 64)) + b"\0" * (4_500_001 - len(jpeg_bytes((64, 64))))
    way_over = just_over + b"\0" * 2_000_000  # past the multipart slack too

    messages = set()
    for body in (just_over, way_over, multipart_body(just_over), multipart_body(way_over)):
        name = MP if body.startswith(b"--") else "apigw_post_images_binary"
        status, _, payload = call(api_event(name, body=body), context)
        assert_error(status, payload, 413, "too_large")
        messages.add(payload["error"]["message"])

    assert messages == {expected}
    assert expected == (
        "POST /images accepts images of at most 4500000 bytes; request a presigned upload "
        f"with POST /uploads for files up to {settings.upload_max_bytes} bytes"
    )  # as the local front and the API Gateway response say
    assert aws.items() == []
