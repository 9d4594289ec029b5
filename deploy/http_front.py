"""A local stand-in for API Gateway (REST API, Lambda proxy integration) in front of a handler.

Each HTTP request becomes the proxy event API Gateway would send
(https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html),
the handler's ``{"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}``
reply becomes the HTTP response. Like API Gateway:

- bodies whose Content-Type matches a binary media type arrive base64-encoded with
  ``isBase64Encoded: true``; other bodies arrive as text; no body is ``null``;
- requests over 10 MB are refused with 413 before the handler runs (the REST API payload
  quota), and so are events over Lambda's 6 MB synchronous invocation payload; these 413s
  use the project's error shape ``{"error": {"code": "payload_too_large", "message"}}``
  with the API's CORS headers (on AWS, gateway responses configured the same way);
- a handler that raises or returns a malformed reply yields 502 ``{"message": "Internal
  server error"}``;
- routes map to resources ``/images``, ``/images/{image_id}`` (with ``pathParameters``),
  ``/uploads``; anything else goes to ``/{proxy+}`` so the handler answers it.

Not API Gateway: ``GET /`` and ``GET /index.html`` serve the upload page from
deploy/static/index.html (on AWS that page is hosted elsewhere). A client that hangs up
mid-response is logged at DEBUG, without a traceback.

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
import os
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
CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)
CLIENT_CLOSED_STATUS = 499  # in a RequestRecord: the client left before its answer (nginx's)


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


def cors_headers(origin: str | None, allow_origins: tuple[str, ...]) -> list[tuple[str, str]]:
    """The CORS headers the API answers with (handlers/http.py ``cors_headers``' rules):
    ``*`` allows any origin; otherwise a listed ``origin`` is echoed with ``Vary: Origin``."""
    headers = [("Access-Control-Expose-Headers", "Location")]
    if "*" in allow_origins:
        return [*headers, ("Access-Control-Allow-Origin", "*")]
    headers.append(("Vary", "Origin"))
    if origin and origin in allow_origins:
        headers.append(("Access-Control-Allow-Origin", origin))
    return headers


def too_large_response(method: str, path: str, size_bytes: int, limit_bytes: int, *,
                       what: str = "", cors: list[tuple[str, str]] | None = None) -> ProxyResponse:
    """413 in the project's error shape (Contract 3): ``{"error": {"code":
    "payload_too_large", "message"}}``; for ``POST /images`` the message points at
    ``POST /uploads``. ``what`` qualifies the limit (e.g. the Lambda event size)."""
    message = (f"request body too large for {method} {path} ({size_bytes} bytes{what}, "
               f"the limit is {limit_bytes} bytes)")
    if method == "POST" and path.rstrip("/") == "/images":
        message += "; use POST /uploads for a presigned S3 upload"
    payload = {"error": {"code": "payload_too_large", "message": message}}
    headers = [("Content-Type", "application/json"), *(cors or [])]
    return ProxyResponse(413, headers, json.dumps(payload).encode())


def allowed_origins(value: str | None) -> tuple[str, ...]:
    """``CORS_ALLOW_ORIGINS`` (comma-separated, default ``*``) as a tuple."""
    origins = tuple(o.strip() for o in (value or "*").split(",") if o.strip())
    return origins or ("*",)


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
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path) or "/"
        on_started = self.server.on_request_started
        if on_started is not None:
            try:
                on_started(self.command, path)
            except Exception:
                log.exception("on_request_started callback failed")
        response: ProxyResponse | None = None
        body_bytes = 0
        close = False
        try:
            response, body_bytes, close = self._proxy(path)
        finally:
            # Before the answer is written: a client acting on it comes after this record.
            self._record(path, response, started, body_bytes)
        self._send(response, close=close)

    def _proxy(self, path: str) -> tuple[ProxyResponse, int, bool]:
        """Read the request, call the handler; (response, body bytes, close the connection)."""
        length_header = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return _json(411, {"message": "Content-Length required"}), 0, True
        try:
            length = int(length_header or 0)
        except ValueError:
            return _json(400, {"message": "bad Content-Length"}), 0, True
        if length > self.server.max_body_bytes:
            self._drain(length)
            return too_large_response(self.command, path, length, self.server.max_body_bytes,
                                      cors=self._cors()), length, True
        body = self.rfile.read(length) if length else b""
        host, port = self.server.server_address[:2]
        event = build_event(
            method=self.command, target=self.path, headers=list(self.headers.items()),
            body=body, source_ip=self.client_address[0],
            host=self.headers.get("Host", f"{host}:{port}"), port=int(port),
            binary_media_types=self.server.binary_media_types,
        )
        return self._invoke(event, len(body)), len(body), False

    def _cors(self) -> list[tuple[str, str]]:
        return cors_headers(self.headers.get("Origin"), self.server.cors_allow_origins)

    def _record(self, path: str, response: ProxyResponse | None, started: float,
                body_bytes: int) -> None:
        """Tell ``on_request`` (status 499 when the client left before its answer)."""
        if self.server.on_request is None:
            return
        status = response.status if response is not None else CLIENT_CLOSED_STATUS
        headers = response.headers if response is not None else []
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        record = RequestRecord(self.command, path, status, time.monotonic() - started,
                               body_bytes, response.body if response is not None else b"",
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

    def _invoke(self, event: dict[str, Any], body_bytes: int) -> ProxyResponse:
        event_bytes = len(json.dumps(event))
        if event_bytes > MAX_EVENT_BYTES:
            return too_large_response(
                event["httpMethod"], event["path"], body_bytes, MAX_EVENT_BYTES,
                what=f", {event_bytes} bytes as a Lambda event", cors=self._cors())
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
    cors_allow_origins: tuple[str, ...]
    on_request: Callable[[RequestRecord], None] | None
    on_request_started: Callable[[str, str], None] | None

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up is not an error worth a traceback: one DEBUG line."""
        error = sys.exc_info()[1]
        if isinstance(error, CLIENT_GONE):
            log.debug("client %s:%s went away: %s", *client_address[:2], error)
            return
        super().handle_error(request, client_address)


class ApiFront:
    """The HTTP front on ``host:port`` (0 picks a free port), serving in a daemon thread.

    Binds in the constructor: ``OSError`` (``errno.EADDRINUSE``) when the port is taken.

    Args:
        handler: the API Lambda handler (``handlers.api.handler``).
        cors_allow_origins: for the front's own 413 answers, as the API's
            ``CORS_ALLOW_ORIGINS`` (default: that variable, else ``*``).
        on_request_started: called with (method, percent-decoded path) when a proxied
            request arrives; each such call is followed by exactly one ``on_request``.
        on_request: called once per proxied request (not the static page) with a
            :class:`RequestRecord`, after the handler and before the answer is written
            (status 499 if the client left first); exceptions in it are logged and ignored.
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
        cors_allow_origins: tuple[str, ...] | None = None,
        on_request_started: Callable[[str, str], None] | None = None,
        on_request: Callable[[RequestRecord], None] | None = None,
    ) -> None:
        self._server = _Server((host, port), _RequestHandler)  # raises OSError if taken
        self._server.handler = handler
        self._server.static_dir = static_dir
        self._server.max_body_bytes = max_body_bytes
        self._server.binary_media_types = binary_media_types
        self._server.cors_allow_origins = cors_allow_origins or allowed_origins(
            os.environ.get("CORS_ALLOW_ORIGINS"))
        self._server.on_request_started = on_request_started
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
