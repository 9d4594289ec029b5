"""The HTTP front with a stand-in handler that echoes its event: API Gateway's proxy shapes.

Binary and multipart bodies base64-encoded, JSON as text, path and query parameters,
multi-value headers, the 10 MB cap and the 6 MB event limit (413 in the project's error
shape), a crashing handler (502), a client hanging up, the upload page at /.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from deploy.local.apigw_events import UploadLimits, match_route
from deploy.local.http_front import ApiFront
from deploy.local.lambda_context import LambdaContext


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event["path"] == "/boom":
        raise RuntimeError("handler crashed")
    if event["path"] == "/slow":
        time.sleep(0.5)
        return {"statusCode": 200, "body": "x" * 4_000_000}
    if event["path"] == "/binary":
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "image/png"},
            "body": base64.b64encode(b"\x89PNG\x00\xff").decode(),
            "isBase64Encoded": True,
        }
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": json.dumps({"event": event, "request_id": context.aws_request_id}),
    }


@pytest.fixture(scope="module")
def front() -> Iterator[str]:
    server = ApiFront(echo, port=0, max_body_bytes=1_000_000)
    yield server.start()
    server.stop()


def _event(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()["event"]


def test_get_with_path_parameter_and_query(front: str) -> None:
    response = requests.get(
        f"{front}/images/abc123?limit=5&tag=a&tag=b", headers={"X-Trace": "t1"}, timeout=5
    )
    event = _event(response)
    assert event["resource"] == "/{proxy+}"  # as the template's REST API sends it
    assert event["path"] == "/images/abc123"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"proxy": "images/abc123"}
    assert event["queryStringParameters"] == {"limit": "5", "tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"limit": ["5"], "tag": ["a", "b"]}
    assert event["headers"]["X-Trace"] == "t1"
    assert event["multiValueHeaders"]["X-Trace"] == ["t1"]
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert event["body"] is None and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "local" and context["resourcePath"] == "/{proxy+}"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["requestId"] == response.json()["request_id"]
    assert isinstance(context["requestTimeEpoch"], int)
    assert response.headers["Set-Cookie"] == "a=1, b=2"  # both values reach the client


def test_listing_goes_through_the_proxy_resource(front: str) -> None:
    event = _event(requests.get(f"{front}/images", timeout=5))
    assert event["resource"] == "/{proxy+}"
    assert event["pathParameters"] == {"proxy": "images"}
    assert event["queryStringParameters"] is None


def test_multipart_body_arrives_base64(front: str) -> None:
    payload = bytes(range(256)) * 10
    response = requests.post(
        f"{front}/images", files={"file": ("a.jpg", payload, "image/jpeg")}, timeout=5
    )
    event = _event(response)
    assert event["isBase64Encoded"] is True
    raw = base64.b64decode(event["body"])
    assert payload in raw and b'name="file"; filename="a.jpg"' in raw
    assert event["headers"]["Content-Type"].startswith("multipart/form-data; boundary=")


def test_raw_image_body_base64_and_json_body_text(front: str) -> None:
    image = _event(
        requests.post(
            f"{front}/images",
            data=b"\xff\xd8\xff\x00",
            headers={"Content-Type": "image/jpeg"},
            timeout=5,
        )
    )
    assert base64.b64decode(image["body"]) == b"\xff\xd8\xff\x00" and image["isBase64Encoded"]
    grant = _event(requests.post(f"{front}/uploads", json={"filename": "ü.jpg"}, timeout=5))
    assert grant["path"] == "/uploads" and grant["isBase64Encoded"] is False
    assert json.loads(grant["body"]) == {"filename": "ü.jpg"}


def test_unknown_path_goes_to_proxy_resource(front: str) -> None:
    event = _event(requests.delete(f"{front}/nope/deeper", timeout=5))
    assert event["resource"] == "/{proxy+}"
    assert event["pathParameters"] == {"proxy": "nope/deeper"}
    assert match_route("/images/a%20b") == ("/{proxy+}", {"proxy": "images/a b"})
    assert match_route("/") == ("/", None)


def test_binary_reply_is_decoded(front: str) -> None:
    response = requests.get(f"{front}/binary", timeout=5)
    assert response.content == b"\x89PNG\x00\xff"
    assert response.headers["Content-Type"] == "image/png"


def test_body_over_the_cap_is_413_without_calling_the_handler(front: str) -> None:
    response = requests.post(
        f"{front}/elsewhere",
        data=b"x" * 1_000_001,
        headers={"Content-Type": "image/jpeg", "Origin": "http://localhost:3000"},
        timeout=10,
    )
    assert response.status_code == 413
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.json() == {
        "error": {
            "code": "too_large",
            "message": (
                "request body too large for POST /elsewhere (1000001 bytes, the limit is "
                "1000000 bytes)"
            ),
        }
    }


def test_post_images_has_one_limit_and_one_message_whichever_check_refuses() -> None:
    """The API's limit (image + multipart framing), the 10 MB cap and the 6 MB event limit
    all answer ``POST /images`` with the handler's own words."""
    calls: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(len(event["body"] or ""))
        return {"statusCode": 202, "body": "{}"}

    limits = UploadLimits(images_max_bytes=1_000_000, uploads_max_bytes=9_000_000)
    one_message = (
        "POST /images accepts images of at most 1000000 bytes; request a presigned upload "
        "with POST /uploads for files up to 9000000 bytes"
    )
    assert limits.message() == one_message
    generous = UploadLimits(images_max_bytes=9_000_000)  # so the event limit is hit first
    fronts = {
        "api limit": (ApiFront(handler, port=0, upload_limits=limits), 1_000_000 + 65_537),
        "10 MB cap": (ApiFront(handler, port=0, max_body_bytes=500_000), 500_001),
        "6 MB event": (ApiFront(handler, port=0, upload_limits=generous), 5_000_000),
    }
    messages = {}
    for name, (server, size) in fronts.items():
        url = server.start()
        try:
            response = requests.post(
                f"{url}/images",
                data=b"\xff" * size,
                headers={"Content-Type": "image/jpeg"},
                timeout=30,
            )
        finally:
            server.stop()
        assert response.status_code == 413, name
        messages[name] = response.json()["error"]["message"]
    assert calls == []
    assert messages["api limit"] == one_message
    assert messages["10 MB cap"] == UploadLimits().message()
    assert messages["6 MB event"] == generous.message()
    # Up to the limit plus the multipart framing allowance, the handler decides.
    server = ApiFront(handler, port=0, upload_limits=limits)
    url = server.start()
    try:
        response = requests.post(
            f"{url}/images",
            data=b"\xff" * (1_000_000 + 65_536),
            headers={"Content-Type": "image/jpeg"},
            timeout=10,
        )
    finally:
        server.stop()
    assert response.status_code == 202 and len(calls) == 1


def test_event_over_the_lambda_limit_is_413_in_the_error_shape() -> None:
    calls: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(event["path"])
        return {"statusCode": 202, "body": "{}"}

    server = ApiFront(handler, port=0, cors_allow_origins=("http://page.test",))
    url = server.start()
    try:
        # 5 MB of binary is under the 10 MB cap but 6.7 MB once base64-encoded in the event.
        response = requests.put(
            f"{url}/things",
            data=b"\xff" * 5_000_000,
            headers={"Content-Type": "image/jpeg", "Origin": "http://page.test"},
            timeout=30,
        )
    finally:
        server.stop()
    assert response.status_code == 413 and calls == []
    assert response.headers["Access-Control-Allow-Origin"] == "http://page.test"
    error = response.json()["error"]
    assert error["code"] == "too_large"
    assert error["message"].startswith("request body too large for PUT /things (5000000 bytes, ")
    assert error["message"].endswith(" bytes as a Lambda event, the limit is 6291456 bytes)")


def test_client_hanging_up_is_one_debug_line_not_a_traceback(
    front: str, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="deploy.local.http_front")
    host, port = front.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as client:
        client.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        # SO_LINGER 0: close with a reset, so the server's write fails mid-response.
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    deadline = time.monotonic() + 5
    while not any("went away" in r.getMessage() for r in caplog.records):
        assert time.monotonic() < deadline, "no 'went away' debug line"
        time.sleep(0.05)
    gone = [r for r in caplog.records if "went away" in r.getMessage()]
    assert len(gone) == 1 and gone[0].levelno == logging.DEBUG
    assert "Traceback" not in capfd.readouterr().err


def test_every_proxied_request_is_recorded_once_before_its_answer() -> None:
    events: list[tuple[str, ...]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 202, "body": "{}"}

    server = ApiFront(
        handler,
        port=0,
        max_body_bytes=10,
        on_request_started=lambda m, p: events.append(("started", m, p)),
        on_request=lambda r: events.append(("done", r.method, r.path, str(r.status))),
    )
    url = server.start()
    try:
        assert requests.post(f"{url}/images", data=b"small", timeout=5).status_code == 202
        assert requests.post(f"{url}/images/", data=b"x" * 11, timeout=5).status_code == 413
        assert requests.get(f"{url}/", timeout=5).status_code == 200  # the page: not proxied
    finally:
        server.stop()
    assert events == [
        ("started", "POST", "/images"),
        ("done", "POST", "/images", "202"),
        ("started", "POST", "/images/"),
        ("done", "POST", "/images/", "413"),
    ]


def test_crashing_handler_is_502_in_the_error_shape(front: str) -> None:
    response = requests.get(f"{front}/boom", headers={"Origin": "http://page.test"}, timeout=5)
    assert response.status_code == 502
    assert response.json() == {
        "error": {"code": "internal_error", "message": "Internal server error"}
    }
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Expose-Headers"] == "Location"


def _raw_request(url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are (requests would fix the framing); status, headers, body."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as client:
        client.sendall(request)
        data = b""
        while chunk := client.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(
    ("framing", "status", "code"),
    [
        ("Transfer-Encoding: chunked", 411, "length_required"),
        ("Content-Length: -5", 400, "bad_request"),
        ("Content-Length: lots", 400, "bad_request"),
    ],
)
def test_bad_framing_is_answered_in_the_error_shape_with_cors(
    framing: str, status: int, code: str
) -> None:
    calls: list[str] = []
    server = ApiFront(
        lambda event, _c: calls.append(event["path"]),
        port=0,
        cors_allow_origins=("http://page.test",),
    )
    url = server.start()
    try:
        got, headers, body = _raw_request(
            url,
            (
                f"POST /images HTTP/1.1\r\nHost: x\r\nOrigin: http://page.test\r\n{framing}\r\n"
                "Content-Type: image/jpeg\r\n\r\n"
            ).encode(),
        )
    finally:
        server.stop()
    assert got == status and calls == []
    assert json.loads(body)["error"]["code"] == code
    assert json.loads(body)["error"]["message"]
    assert headers["Access-Control-Allow-Origin"] == "http://page.test"
    assert headers["Vary"] == "Origin"


def test_upload_page_is_served(front: str) -> None:
    for path in ("/", "/index.html"):
        response = requests.get(f"{front}{path}", timeout=5)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/html")
        assert "<form" in response.text and '<script src="/static/app.js">' in response.text
    script = requests.get(f"{front}/static/app.js", timeout=5)
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert "/images" in script.text and "Authorization" in script.text
    assert requests.get(f"{front}/static/page.css", timeout=5).status_code == 200


def test_upload_page_has_security_headers_and_no_inline_script(front: str) -> None:
    import re

    response = requests.get(f"{front}/", timeout=5)
    csp = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline': no inline script runs
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    page = response.text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)  # every script is a file
    assert "<style" not in page and not re.search(r"\son[a-z]+=", page)  # no inline handlers


def test_handler_gets_the_shared_lambda_context_of_the_api_function() -> None:
    seen: list[tuple[dict[str, Any], Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append((event, context))
        return {"statusCode": 200, "body": "{}"}

    server = ApiFront(handler, port=0, region="eu-west-1")
    url = server.start()
    try:
        assert requests.get(f"{url}/images", timeout=5).status_code == 200
    finally:
        server.stop()
    [(event, context)] = seen
    assert isinstance(context, LambdaContext)
    assert context.aws_request_id == event["requestContext"]["requestId"]
    assert context.invoked_function_arn == "arn:aws:lambda:eu-west-1:123456789012:function:api"
    assert 28_000 < context.get_remaining_time_in_millis() <= 29_000


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("image/jpeg", bytes(range(256)) * 40),  # binary: base64 in the event
        ("application/json", '{"name": "a \\"quoted\\" \\\\ ü\\n"}'.encode()),  # text
        ("image/png", b""),
    ],
    ids=["base64", "text", "empty"],
)
def test_event_size_is_its_json_length(content_type: str, body: bytes) -> None:
    from deploy.local.apigw_events import build_event
    from deploy.local.http_front import event_json_bytes

    event = build_event(
        method="POST",
        target="/images?x=\u00e9",
        headers=[("Content-Type", content_type), ("X-Name", 'caf\u00e9 "q"')],
        body=body,
        source_ip="127.0.0.1",
        host="127.0.0.1:8080",
        port=8080,
    )

    assert event_json_bytes(event) == len(json.dumps(event))
    assert event_json_bytes({**event, "body": '"\\' + (event["body"] or "")}) == len(
        json.dumps({**event, "body": '"\\' + (event["body"] or "")})
    )
