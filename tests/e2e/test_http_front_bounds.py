"""The HTTP front's bounds, over raw sockets on loopback: what a misbehaving client gets.

API Gateway invokes the function only for a whole request; so does the front. A body cut
short is 400, a body that stalls is 408, and the handler never runs for either (so nothing
is stored). http.server's own refusals (unknown method, long request line, long header) come
in the API's error shape with CORS headers, not as HTML. Connections are capped (503
beyond), idle ones are closed, ``HEAD`` reaches the handler as on the template's ``ANY``
methods, and a refused upload (the memory bound) is 507.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from deploy.local.http_front import ApiFront, RequestRecord

ORIGIN = "http://page.test"


class Recorder:
    """A stand-in API handler that remembers every event it was given."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        body = json.dumps({"items": [], "method": event["httpMethod"]})
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": body}


@pytest.fixture
def handler() -> Recorder:
    return Recorder()


@pytest.fixture
def records() -> list[RequestRecord]:
    return []


@pytest.fixture
def front(handler: Recorder, records: list[RequestRecord]) -> Iterator[tuple[str, int]]:
    server = ApiFront(
        handler,
        port=0,
        cors_allow_origins=(ORIGIN,),
        body_timeout_s=0.6,
        idle_timeout_s=0.4,
        max_connections=3,
        on_request=records.append,
    )
    url = server.start()
    host, port = url.removeprefix("http://").split(":")
    yield host, int(port)
    server.stop()


def read_response(client: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read one whole response (until the server closes); status, headers, body."""
    data = b""
    while chunk := client.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return int(status_line.split()[1]), headers, body


def error_of(body: bytes) -> dict[str, str]:
    payload = json.loads(body)
    assert set(payload) == {"error"} and set(payload["error"]) == {"code", "message"}
    return payload["error"]


def post_head(length: int) -> bytes:
    return (
        f"POST /images HTTP/1.1\r\nHost: x\r\nOrigin: {ORIGIN}\r\n"
        f"Content-Type: image/jpeg\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def test_a_body_cut_short_is_400_and_never_reaches_the_handler(
    front: tuple[str, int], handler: Recorder, records: list[RequestRecord]
) -> None:
    with socket.create_connection(front, timeout=5) as client:
        client.sendall(post_head(811_904) + b"\xff" * 200_000)
        client.shutdown(socket.SHUT_WR)  # the client hangs up mid-body
        status, headers, body = read_response(client)

    assert status == 400 and handler.events == []
    error = error_of(body)
    assert error["code"] == "bad_request"
    assert error["message"] == (
        "the request body ended after 200000 of the 811904 bytes of its Content-Length "
        "(the connection was closed); nothing was stored"
    )
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    assert [(r.method, r.path, r.status) for r in records] == [("POST", "/images", 400)]


def test_a_stalled_body_is_408_after_the_body_timeout(
    front: tuple[str, int], handler: Recorder
) -> None:
    with socket.create_connection(front, timeout=5) as client:
        client.sendall(post_head(1000) + b"\xff" * 10)
        started = time.monotonic()
        status, headers, body = read_response(client)  # the client stays, silent
        waited_s = time.monotonic() - started

    assert status == 408 and handler.events == []
    assert headers["Connection"] == "close"
    assert error_of(body) == {
        "code": "request_timeout",
        "message": (
            "the request body did not arrive within 0.6 s (10 of the 1000 bytes of its "
            "Content-Length came); nothing was stored"
        ),
    }
    assert waited_s < 5  # bounded by the body timeout, not the client


def test_a_trickled_body_is_bounded_in_all_not_per_read(
    front: tuple[str, int], handler: Recorder
) -> None:
    """A byte every 0.25 s never trips the 0.4 s read timeout, but the 0.6 s body timeout."""
    with socket.create_connection(front, timeout=5) as client:
        client.sendall(post_head(100))
        started = time.monotonic()
        for _ in range(40):  # 10 s at most; stops sending as soon as the answer is there
            client.sendall(b"\xff")
            readable, _, _ = select.select([client], [], [], 0.25)
            if readable:
                break
        answered_s = time.monotonic() - started
        status, _, body = read_response(client)
    assert status == 408 and handler.events == []
    assert "did not arrive within 0.6 s" in error_of(body)["message"]
    assert answered_s < 5


def test_a_declared_body_never_sent_does_not_hold_a_thread(
    front: tuple[str, int], handler: Recorder
) -> None:
    with socket.create_connection(front, timeout=5) as client:
        client.sendall(post_head(4_000_000))
        status, _, body = read_response(client)
    assert status == 408 and error_of(body)["code"] == "request_timeout"
    # A connection that never sends a request is closed after the idle timeout.
    with socket.create_connection(front, timeout=5) as idle:
        started = time.monotonic()
        assert idle.recv(1) == b""
        assert time.monotonic() - started < 5
    assert handler.events == []


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (
            b"BREW /images HTTP/1.1\r\nHost: x\r\nOrigin: " + ORIGIN.encode() + b"\r\n\r\n",
            501,
            "not_implemented",
        ),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri_too_long"),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 70_000 + b"\r\n\r\n",
            431,
            "headers_too_large",
        ),
        (b"GET /images HTTP/9.1\r\nHost: x\r\n\r\n", 505, "http_version_not_supported"),
        (b"nonsense\r\n\r\n", 400, "bad_request"),
    ],
)
def test_http_server_refusals_come_in_the_error_shape(
    front: tuple[str, int], handler: Recorder, request_bytes: bytes, status: int, code: str
) -> None:
    with socket.create_connection(front, timeout=5) as client:
        client.sendall(request_bytes)
        got, headers, body = read_response(client)
    assert got == status and handler.events == []
    assert headers["Content-Type"] == "application/json"
    assert headers["Vary"] == "Origin"  # the API's CORS headers (origin echoed when listed)
    error = error_of(body)
    assert error["code"] == code and error["message"]
    if status == 501:
        assert headers["Access-Control-Allow-Origin"] == ORIGIN
        assert error["message"] == (
            "method BREW is not supported; use one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
        )


def test_connections_over_the_cap_get_503_at_once(
    front: tuple[str, int], handler: Recorder
) -> None:
    url = "http://{}:{}".format(*front)
    held = [socket.create_connection(front, timeout=5) for _ in range(3)]
    try:
        time.sleep(0.1)  # all three accepted, each holding a thread
        with socket.create_connection(front, timeout=5) as extra:
            extra.sendall(b"GET /images HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, body = read_response(extra)
        assert status == 503 and headers["Retry-After"] == "1"
        assert error_of(body) == {
            "code": "service_unavailable",
            "message": (
                "the local API serves at most 3 connections at once; close idle ones or "
                "retry shortly"
            ),
        }
        assert handler.events == []
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 5
    while True:  # slots come back as the held connections end
        response = requests.get(f"{url}/images", timeout=5)
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert response.status_code == 200


def test_head_reaches_the_handler_and_is_answered_without_a_body(
    front: tuple[str, int], handler: Recorder
) -> None:
    url = "http://{}:{}".format(*front)
    got = requests.get(f"{url}/images", timeout=5)
    head = requests.head(f"{url}/images", timeout=5)

    assert [e["httpMethod"] for e in handler.events] == ["GET", "HEAD"]
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Type"] == "application/json"
    expected = json.dumps({"items": [], "method": "HEAD"}).encode()
    assert int(head.headers["Content-Length"]) == len(expected)
    assert got.json()["method"] == "GET"
    page = requests.head(f"{url}/", timeout=5)
    assert page.status_code == 200 and page.content == b""
    assert int(page.headers["Content-Length"]) > 1000


def test_uploads_refused_by_the_storage_bound_are_507_before_the_handler() -> None:
    handler = Recorder()
    full = {"now": False}

    def admit_upload() -> str | None:
        return "the local pipeline holds 2.10 GB (--max-stored-mb 2048)" if full["now"] else None

    server = ApiFront(handler, port=0, admit_upload=admit_upload)
    url = server.start()
    try:
        assert requests.post(f"{url}/images", data=b"\xff", timeout=5).status_code == 200
        full["now"] = True
        refused = [
            requests.post(f"{url}/images", data=b"\xff" * 1000, timeout=5),
            requests.post(f"{url}/uploads", json={"filename": "a.jpg"}, timeout=5),
        ]
        still = requests.get(f"{url}/images", timeout=5)
    finally:
        server.stop()
    for response in refused:
        assert response.status_code == 507
        assert response.json() == {
            "error": {
                "code": "insufficient_storage",
                "message": "the local pipeline holds 2.10 GB (--max-stored-mb 2048)",
            }
        }
        assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert still.status_code == 200
    assert [(e["httpMethod"], e["path"]) for e in handler.events] == [
        ("POST", "/images"),
        ("GET", "/images"),
    ]
