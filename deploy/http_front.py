"""A local stand-in for API Gateway (REST API, Lambda proxy integration) in front of a handler.

Each HTTP request becomes the proxy event API Gateway would send
(https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html),
the handler's ``{"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}``
reply becomes the HTTP response. Like API Gateway:

- bodies whose Content-Type matches a binary media type arrive base64-encoded with
  ``isBase64Encoded: true``; other bodies arrive as text; no body is ``null``;
- requests over 10 MB are refused with 413 before the handler runs (the REST API payload
  quota), and so are events over Lambda's 6 MB synchronous invocation payload;
- a handler that raises or returns a malformed reply yields 502 ``{"message": "Internal
  server error"}``;
- routes map to resources ``/images``, ``/images/{image_id}`` (with ``pathParameters``),
  ``/uploads``; anything else goes to ``/{proxy+}`` so the handler answers it.

Not API Gateway: ``GET /`` and ``GET /index.html`` serve the upload page from
deploy/static/index.html (on AWS that page is hosted elsewhere).

Standalone: ``python -m deploy.http_front --port 8080`` (handler ``handlers.api.handler``,
configured by the environment).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import fnmatch
import json
import logging
import signal
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway REST API payload quota
MAX_EVENT_BYTES = 6 * 1024 * 1024  # Lambda synchronous invocation payload quota
BINARY_MEDIA_TYPES = ("multipart/form-data", "image/*", "application/octet-stream")
DRAIN_MAX_BYTES = 64 * 1024 * 1024
STAGE = "local"
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


def match_route(path: str) -> tuple[str, dict[str, str] | None]:
    """Map a request path to its API Gateway ``resource`` and ``pathParameters``.

    Mirrors the REST API in ``deploy/template.yaml``: the root resource ``/`` and one
    greedy ``/{proxy+}`` resource, so ``/images/abc`` arrives exactly as on AWS:
    ``("/{proxy+}", {"proxy": "images/abc"})``. Parameter values are percent-decoded.
    """
    segments = [urllib.parse.unquote(s) for s in path.strip("/").split("/")] if path != "/" \
        else []
    if not segments:
        return "/", None
    return "/{proxy+}", {"proxy": "/".join(segments)}


def is_binary(content_type: str | None, binary_media_types: tuple[str, ...]) -> bool:
    """Whether API Gateway would base64-encode a body of ``content_type``."""
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return any(fnmatch.fnmatchcase(media_type, pattern) for pattern in binary_media_types)


def build_event(
    *,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    host: str,
    port: int,
    binary_media_types: tuple[str, ...] = BINARY_MEDIA_TYPES,
    stage: str = STAGE,
) -> dict[str, Any]:
    """The API Gateway REST proxy event for one request.

    Args:
        method: HTTP method; target: the request target (path and query string);
        headers: as received, in order, names as sent; body: raw request body bytes;
        source_ip: the client's address; host, port: where this front listens.
    """
    split = urllib.parse.urlsplit(target)
    path = urllib.parse.unquote(split.path) or "/"
    resource, path_parameters = match_route(split.path or "/")
    multi_query: dict[str, list[str]] = {}
    for name, value in urllib.parse.parse_qsl(split.query, keep_blank_values=True):
        multi_query.setdefault(name, []).append(value)
    all_headers = [*headers, ("X-Forwarded-For", source_ip), ("X-Forwarded-Port", str(port)),
                   ("X-Forwarded-Proto", "http")]
    multi_headers: dict[str, list[str]] = {}
    for name, value in all_headers:
        multi_headers.setdefault(name, []).append(value)
    lower = {name.lower(): values[-1] for name, values in multi_headers.items()}
    binary = is_binary(lower.get("content-type"), binary_media_types)
    if not body:
        event_body = None
    elif binary:
        event_body = base64.b64encode(body).decode("ascii")
    else:
        event_body = body.decode("utf-8", errors="replace")
    now = datetime.now(UTC)
    request_id = str(uuid.uuid4())
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {name: values[-1] for name, values in multi_headers.items()},
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{stage}{path}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": host.split(".")[0],
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None, "accountId": None, "cognitoIdentityId": None,
                "caller": None, "sourceIp": source_ip, "principalOrgId": None,
                "accessKey": None, "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None, "userArn": None,
                "userAgent": lower.get("user-agent"), "user": None,
            },
            "domainName": host,
            "apiId": "local",
        },
        "body": event_body,
        "isBase64Encoded": bool(event_body) and binary,
    }


@dataclass(frozen=True, slots=True)
class ProxyResponse:
    """A handler reply ready to write: status, header pairs (repeats allowed), body bytes."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def parse_response(reply: Any) -> ProxyResponse:
    """Read a Lambda proxy reply the way API Gateway does.

    ``headers`` and ``multiValueHeaders`` are merged (both kept); a base64 body is decoded.

    Raises:
        ValueError: the reply is not a valid proxy response (API Gateway answers 502).
    """
    if not isinstance(reply, dict) or not isinstance(reply.get("statusCode"), int):
        msg = f"expected a dict with an int statusCode, got {type(reply).__name__}"
        raise ValueError(msg)
    pairs: list[tuple[str, str]] = []
    multi = reply.get("multiValueHeaders") or {}
    for name, value in (reply.get("headers") or {}).items():
        if name not in multi:
            pairs.append((name, str(value)))
    for name, values in multi.items():
        pairs.extend((name, str(v)) for v in values)
    body = reply.get("body") or ""
    if reply.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, TypeError) as e:
            msg = "isBase64Encoded is true but the body is not base64"
            raise ValueError(msg) from e
    else:
        data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    return ProxyResponse(reply["statusCode"], pairs, data)


def _json(status: int, payload: dict[str, Any]) -> ProxyResponse:
    headers = [("Content-Type", "application/json"), ("Access-Control-Allow-Origin", "*")]
    return ProxyResponse(status, headers, json.dumps(payload).encode())


@dataclass
class RequestRecord:
    """What :class:`ApiFront` tells its ``on_request`` callback after each API call."""

    method: str
    path: str
    status: int
    duration_s: float
    request_body_bytes: int
    response_body: bytes
    content_type: str


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _send(self, response: ProxyResponse, *, close: bool = False) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _static(self) -> bool:
        path = urllib.parse.urlsplit(self.path).path
        if self.command not in ("GET", "HEAD") or path not in ("/", "/index.html"):
            return False
        page = self.server.static_dir / "index.html"
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")]
        self._send(ProxyResponse(200, headers, page.read_bytes()))
        return True

    def _handle(self) -> None:
        if self._static():
            return
        started = time.monotonic()
        length_header = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self._send(_json(411, {"message": "Content-Length required"}), close=True)
            return
        try:
            length = int(length_header or 0)
        except ValueError:
            self._send(_json(400, {"message": "bad Content-Length"}), close=True)
            return
        if length > self.server.max_body_bytes:
            msg = f"request body of {length} bytes is over the {self.server.max_body_bytes} limit"
            self._drain(length)
            self._send(_json(413, {"message": "Request Too Long", "detail": msg}), close=True)
            return
        body = self.rfile.read(length) if length else b""
        host, port = self.server.server_address[:2]
        event = build_event(
            method=self.command, target=self.path, headers=list(self.headers.items()),
            body=body, source_ip=self.client_address[0],
            host=self.headers.get("Host", f"{host}:{port}"), port=int(port),
            binary_media_types=self.server.binary_media_types,
        )
        response = self._invoke(event)
        self._send(response)
        if self.server.on_request is not None:
            content_type = next((v for k, v in response.headers if k.lower() == "content-type"),
                                "")
            record = RequestRecord(self.command, event["path"], response.status,
                                   time.monotonic() - started, len(body), response.body,
                                   content_type)
            try:
                self.server.on_request(record)
            except Exception:
                log.exception("on_request callback failed")

    def _drain(self, length: int) -> None:
        """Read and drop a refused body (up to 64 MB) so the client gets to read the 413."""
        left = min(length, DRAIN_MAX_BYTES)
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 20))
            if not chunk:
                return
            left -= len(chunk)

    def _invoke(self, event: dict[str, Any]) -> ProxyResponse:
        event_bytes = len(json.dumps(event))
        if event_bytes > MAX_EVENT_BYTES:
            msg = f"the Lambda event would be {event_bytes} bytes, over {MAX_EVENT_BYTES}"
            return _json(413, {"message": "Request Too Long", "detail": msg})
        context = _ApiContext(aws_request_id=event["requestContext"]["requestId"])
        try:
            return parse_response(self.server.handler(event, context))
        except Exception:
            log.exception("API handler failed for %s %s", event["httpMethod"], event["path"])
            return _json(502, {"message": "Internal server error"})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _handle


@dataclass
class _ApiContext:
    """The Lambda context attributes handlers read (see deploy.dispatcher.LambdaContext)."""

    aws_request_id: str
    function_name: str = "api"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:api"
    memory_limit_in_mb: int = 512
    log_group_name: str = "/aws/lambda/api"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        """API Gateway's integration timeout is 29 s; report that as the budget."""
        return 29_000


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    handler: Handler
    static_dir: Path
    max_body_bytes: int
    binary_media_types: tuple[str, ...]
    on_request: Callable[[RequestRecord], None] | None


class ApiFront:
    """The HTTP front on ``host:port`` (0 picks a free port), serving in a daemon thread.

    Args:
        handler: the API Lambda handler (``handlers.api.handler``).
        on_request: called after each proxied request (not the static page) with a
            :class:`RequestRecord`; exceptions in it are logged and ignored.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        static_dir: Path = STATIC_DIR,
        max_body_bytes: int = MAX_BODY_BYTES,
        binary_media_types: tuple[str, ...] = BINARY_MEDIA_TYPES,
        on_request: Callable[[RequestRecord], None] | None = None,
    ) -> None:
        self._server = _Server((host, port), _RequestHandler)  # raises OSError if taken
        self._server.handler = handler
        self._server.static_dir = static_dir
        self._server.max_body_bytes = max_body_bytes
        self._server.binary_media_types = binary_media_types
        self._server.on_request = on_request
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` of the API (loopback when bound to all interfaces)."""
        host, port = self._server.server_address[:2]
        host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"http://{host}:{port}"

    def start(self) -> str:
        """Serve in a daemon thread; return :attr:`url`."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-front",
                                        daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()


def main(argv: list[str] | None = None) -> int:
    """CLI: serve the API handler on a port until Ctrl-C or SIGTERM. Returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m deploy.http_front",
        description="Serve a Lambda handler over HTTP as an API Gateway REST proxy would.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8080, help="port, 0 = free (default: 8080)")
    parser.add_argument("--handler", default="handlers.api.handler",
                        help="dotted path of the handler (default: %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(message)s")
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from deploy.dispatcher import load_handler

    def log_request(record: RequestRecord) -> None:
        log.info("%s %s -> %d (%.0f ms)", record.method, record.path, record.status,
                 record.duration_s * 1000)

    front = ApiFront(load_handler(args.handler), host=args.host, port=args.port,
                     on_request=log_request)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    log.info("serving %s on %s; Ctrl-C to stop", args.handler, front.start())
    stopping.wait()
    front.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
