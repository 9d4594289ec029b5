"""A local stand-in for API Gateway (REST API, Lambda proxy integration) in front of a handler.

Each HTTP request becomes the proxy event API Gateway would send, the handler's reply
becomes the HTTP response (shapes in deploy/local/apigw_events.py). Like API Gateway:

- bodies whose Content-Type matches a binary media type arrive base64-encoded with
  ``isBase64Encoded: true``; other bodies arrive as text; no body is ``null``;
- requests over 10 MB are refused with 413 before the handler runs (the REST API payload
  quota), and so are events over Lambda's 6 MB synchronous invocation payload; for
  ``POST /images`` the limit is the API's own (:class:`~deploy.local.apigw_events.UploadLimits`:
  ``API_MAX_BODY_BYTES`` plus multipart framing) and every 413 there carries the handler's
  one message, whichever limit was hit;
- the function runs only for a whole request: a body shorter than its Content-Length (the
  client hung up) is 400, a body that does not arrive within ``body_timeout_s`` (default
  30 s; API Gateway's integration limit is 29 s) is 408; nothing is invoked, so nothing is
  stored;
- a handler that raises or returns a malformed reply yields 502, and so does an invocation
  through the Lambda Runtime API that fails (handler error, init error, timeout: see
  ``ApiFront(invoke=...)`` and deploy/local/lambda_service/);
- routes map to resources as the template's REST API: ``/`` and ``/{proxy+}`` (with
  ``pathParameters``), so the handler routes on the path. Like the template's ``ANY``
  methods, GET, HEAD, POST, PUT, PATCH, DELETE and OPTIONS reach the handler as they are
  (``HEAD`` too: the handler answers it, the front sends the headers without the body).

Every answer the front gives itself uses the project's error shape ``{"error": {"code",
"message"}}`` with the API's CORS headers (on AWS, gateway responses configured the same
way): 413 ``too_large`` (the engine's reason code, as the API's own 413), 411
``length_required`` (chunked bodies), 400 ``bad_request`` (a bad Content-Length, a cut
body, a malformed request line or header), 408 ``request_timeout``, 414 ``uri_too_long``,
431 ``headers_too_large``, 501 ``not_implemented`` (a method the REST API does not know),
503 ``service_unavailable`` (``max_connections`` open already), 507
``insufficient_storage`` (``admit_upload`` refused a new upload), 502 ``internal_error``
(the handler crashed or answered nonsense; API Gateway's own body there is
``{"message": "Internal server error"}``).

Bounded: at most ``max_connections`` connections are served at once (default 64; one
thread each), every read waits at most ``idle_timeout_s`` (default 30 s; also how long an
idle keep-alive connection is kept), and a body at most ``body_timeout_s`` in all.

Authorizers (``authorize=``, deploy/local/authorizer.py): with ``AUTH_MODE`` jwt or iam the
front checks every request but the OPTIONS preflight as API Gateway's authorizer would,
answers refusals itself (401/403 in the project's error shape, as the template's gateway
responses) and passes what it vouched for in ``requestContext``.

Not API Gateway: ``GET /`` and ``GET /index.html`` serve the upload page from
deploy/local/static/index.html, and ``GET /static/<name>`` its script and styles (on AWS
that page is hosted elsewhere), with security headers (:data:`PAGE_HEADERS`: a
Content-Security-Policy without inline script, ``X-Content-Type-Options: nosniff``,
``Referrer-Policy: no-referrer``). A client that hangs up
mid-response is logged at DEBUG, without a traceback.

Standalone: ``python -m deploy.local.http_front --port 8080`` (handler ``handlers.api.handler``,
configured by the environment, read through ``handlers.config.Settings``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from deploy.local import standalone
from deploy.local.apigw_events import (
    BINARY_MEDIA_TYPES,
    ProxyResponse,
    UploadLimits,
    build_event,
    cors_header_pairs,
    error_response,
    is_upload,
    parse_response,
    too_large_response,
)
from deploy.local.authorizer import Authorize, Refusal, merge_context
from deploy.local.cli_args import port_number, positive_float, positive_int
from deploy.local.lambda_context import Handler, lambda_context
from imgproc.cli_report import printable

log = logging.getLogger(__name__)

Invoke = Callable[[dict[str, Any]], Any]  # proxy event -> proxy reply; raises on a failure

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway REST API payload quota
MAX_EVENT_BYTES = 6 * 1024 * 1024  # Lambda synchronous invocation payload quota
API_TIMEOUT_S = 29  # API Gateway's default integration timeout, the api function's timeout
DRAIN_MAX_BYTES = 64 * 1024 * 1024
READ_CHUNK_BYTES = 1 << 20
DEFAULT_BODY_TIMEOUT_S = 30.0  # a whole request body; API Gateway's integration limit is 29 s
DEFAULT_IDLE_TIMEOUT_S = 30.0  # any one read, and an idle keep-alive connection
DEFAULT_MAX_CONNECTIONS = 64
REFUSAL_READ_S = 0.2  # over the cap: how long to wait for the request before answering 503
STOP_POLL_S = 0.1  # how often the serving loop looks for a stop (serve_forever's poll)
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")  # the template's ANY
# Errors http.server raises itself (send_error) as the API's error codes.
SERVER_ERROR_CODES = {
    400: "bad_request",
    408: "request_timeout",
    414: "uri_too_long",
    431: "headers_too_large",
    501: "not_implemented",
    505: "http_version_not_supported",
}
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})
CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)
CLIENT_CLOSED_STATUS = 499  # in a RequestRecord: the client left before its answer (nginx's)
DEFAULT_HANDLER = "handlers.api.handler"
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
PAGE_HEADERS = [
    # No inline script or style; uploads go to the API (same origin) and, presigned, to
    # S3 (any http(s) origin: the bucket's URL is only known from the grant); thumbnails
    # are presigned S3 URLs.
    (
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data: "
        "http: https:; connect-src 'self' http: https:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-store"),
]


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

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.idle_timeout_s)  # every read and write

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line, 414, 431, an unknown method: 501)
        in the API's error shape with CORS headers, instead of its HTML page."""
        reason = message or self.responses.get(code, ("error",))[0]
        if code == 501 and self.command:
            reason = f"method {self.command} is not supported; use one of {', '.join(METHODS)}"
        response = error_response(
            code, SERVER_ERROR_CODES.get(code, "bad_request"), reason, cors=self._cors()
        )
        if self.request_version == self.default_request_version:  # a request line it refused
            self.request_version = "HTTP/1.1"  # a status line and headers, not HTTP/0.9's body
        self._send(response, close=True)

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
        if self.command not in ("GET", "HEAD"):
            return False
        if path in ("/", "/index.html"):
            page, content_type = self.server.static_dir / "index.html", "text/html; charset=utf-8"
        elif path.startswith("/static/") and "/" not in path[len("/static/") :]:
            name = path[len("/static/") :]
            content_type = STATIC_TYPES.get(Path(name).suffix, "")
            page = self.server.static_dir / name
            if not content_type or not page.is_file():
                return False
        else:
            return False
        headers = [("Content-Type", content_type), *PAGE_HEADERS]
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
        """Read the request, call the handler; (response, body bytes, close the connection).

        The handler runs only for a whole request within its limits; every other answer
        closes the connection (the rest of the request is not worth reading).
        """
        length_header = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return (
                error_response(
                    411,
                    "length_required",
                    "chunked request bodies are not accepted; send a Content-Length",
                    cors=self._cors(),
                ),
                0,
                True,
            )
        try:
            length = int(length_header or 0)
            if length < 0:
                raise ValueError(length)
        except ValueError:
            return (
                error_response(
                    400, "bad_request", f"bad Content-Length {length_header!r}", cors=self._cors()
                ),
                0,
                True,
            )
        limits = self.server.upload_limits
        limit = self.server.max_body_bytes
        if is_upload(self.command, path):
            limit = min(limit, limits.body_max_bytes)
        if length > limit:
            self._drain(length)
            return (
                too_large_response(
                    self.command, path, length, limit, limits=limits, cors=self._cors()
                ),
                length,
                True,
            )
        refusal = self._storage_refusal(path)
        if refusal is not None:
            self._drain(length)
            return refusal, length, True
        body, problem = self._read_body(length)
        if problem is not None:
            return problem, len(body), True
        host, port = self.server.bound_address
        event = build_event(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            host=self.headers.get("Host", f"{host}:{port}"),
            port=port,
            binary_media_types=self.server.binary_media_types,
        )
        authorize = self.server.authorize
        if authorize is not None and self.command != "OPTIONS":  # preflights stay open
            granted = authorize({k.lower(): v for k, v in self.headers.items()})
            if isinstance(granted, Refusal):
                refusal = error_response(
                    granted.status, granted.code, granted.message, cors=self._cors()
                )
                return refusal, len(body), False
            merge_context(event, granted)
        return self._invoke(event, len(body)), len(body), False

    def _storage_refusal(self, path: str) -> ProxyResponse | None:
        """507 when ``admit_upload`` refuses a new upload (``POST /images``, ``POST /uploads``)."""
        admit = self.server.admit_upload
        new_upload = self.command == "POST" and path.rstrip("/") in ("/images", "/uploads")
        if admit is None or not new_upload:
            return None
        message = admit()
        if message is None:
            return None
        return error_response(507, "insufficient_storage", message, cors=self._cors())

    def _read_body(self, length: int) -> tuple[bytes, ProxyResponse | None]:
        """Read exactly ``length`` bytes within ``body_timeout_s``; ``(body, None)``, or what
        was read and the answer when the client hung up early (400) or was too slow (408)."""
        chunks: list[bytes] = []
        got = 0
        timeout_s = self.server.body_timeout_s
        deadline = time.monotonic() + timeout_s
        try:
            while got < length:
                remaining_s = deadline - time.monotonic()
                if remaining_s <= 0:
                    raise TimeoutError
                self.connection.settimeout(min(remaining_s, self.server.idle_timeout_s))
                chunk = self.rfile.read1(min(length - got, READ_CHUNK_BYTES))
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
        except TimeoutError:
            message = (
                f"the request body did not arrive within {timeout_s:g} s ({got} of the "
                f"{length} bytes of its Content-Length came); nothing was stored"
            )
            return b"".join(chunks), error_response(
                408, "request_timeout", message, cors=self._cors()
            )
        except CLIENT_GONE:
            pass
        finally:
            self.connection.settimeout(self.server.idle_timeout_s)
        body = b"".join(chunks)
        if got < length:
            message = (
                f"the request body ended after {got} of the {length} bytes of its "
                "Content-Length (the connection was closed); nothing was stored"
            )
            return body, error_response(400, "bad_request", message, cors=self._cors())
        return body, None

    def _cors(self) -> list[tuple[str, str]]:
        headers = getattr(self, "headers", None)  # unset when the request line was refused
        origin = headers.get("Origin") if headers is not None else None
        return cors_header_pairs(origin, self.server.cors_allow_origins)

    def _record(
        self, path: str, response: ProxyResponse | None, started: float, body_bytes: int
    ) -> None:
        """Tell ``on_request`` (status 499 when the client left before its answer)."""
        if self.server.on_request is None:
            return
        status = response.status if response is not None else CLIENT_CLOSED_STATUS
        headers = response.headers if response is not None else []
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        record = RequestRecord(
            self.command,
            path,
            status,
            time.monotonic() - started,
            body_bytes,
            response.body if response is not None else b"",
            content_type,
        )
        try:
            self.server.on_request(record)
        except Exception:
            log.exception("on_request callback failed")

    def _drain(self, length: int) -> None:
        """Read and drop a refused body (up to 64 MB, within ``body_timeout_s``) so the
        client gets to read the answer."""
        left = min(length, DRAIN_MAX_BYTES)
        deadline = time.monotonic() + self.server.body_timeout_s
        try:
            while left > 0:
                remaining_s = deadline - time.monotonic()
                if remaining_s <= 0:
                    return
                self.connection.settimeout(min(remaining_s, self.server.idle_timeout_s))
                chunk = self.rfile.read1(min(left, READ_CHUNK_BYTES))
                if not chunk:
                    return
                left -= len(chunk)
        except (TimeoutError, *CLIENT_GONE):
            return
        finally:
            self.connection.settimeout(self.server.idle_timeout_s)

    def _invoke(self, event: dict[str, Any], body_bytes: int) -> ProxyResponse:
        event_bytes = event_json_bytes(event)
        if event_bytes > MAX_EVENT_BYTES:
            return too_large_response(
                event["httpMethod"],
                event["path"],
                body_bytes,
                MAX_EVENT_BYTES,
                limits=self.server.upload_limits,
                what=f", {event_bytes} bytes as a Lambda event",
                cors=self._cors(),
            )
        try:
            return parse_response(self.server.invoke(event))
        except Exception:
            where = printable(f"{event['httpMethod']} {event['path']}")
            log.exception("API handler failed for %s", where)
            return error_response(502, "internal_error", "Internal server error", cors=self._cors())

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _handle


def event_json_bytes(event: dict[str, Any]) -> int:
    """``len(json.dumps(event))``, the event's size as Lambda counts its payload, without
    encoding a base64 body: megabytes that JSON writes as they are (``build_event`` makes
    them with ``base64.b64encode``: ASCII letters, digits, ``+/=``, nothing JSON escapes),
    so the rest of the event is encoded and the body's length added. Measured on a 1.5 MB
    upload: 6.6 ms -> 0.1 ms. Any other body is encoded whole."""
    body = event.get("body")
    if (
        event.get("isBase64Encoded")
        and isinstance(body, str)
        and body.isascii()
        and '"' not in body
        and "\\" not in body
    ):
        return len(json.dumps({**event, "body": ""})) + len(body)
    return len(json.dumps(event))


def in_process(handler: Handler, region: str) -> Invoke:
    """Invoke ``handler`` in this process with a Lambda context (the api function's)."""

    def invoke(event: dict[str, Any]) -> Any:
        context = lambda_context(
            "api",
            region,
            API_TIMEOUT_S,
            memory_limit_in_mb=512,
            aws_request_id=event["requestContext"]["requestId"],
        )
        return handler(event, context)

    return invoke


class _Server(ThreadingHTTPServer):
    """One thread per connection, at most ``max_connections`` of them (503 beyond)."""

    daemon_threads = True
    invoke: Invoke
    static_dir: Path
    max_body_bytes: int
    upload_limits: UploadLimits
    binary_media_types: tuple[str, ...]
    cors_allow_origins: tuple[str, ...]
    region: str
    body_timeout_s: float
    idle_timeout_s: float
    admit_upload: Callable[[], str | None] | None
    on_request: Callable[[RequestRecord], None] | None
    on_request_started: Callable[[str, str], None] | None
    authorize: Authorize | None

    def set_max_connections(self, max_connections: int) -> None:
        """Serve at most ``max_connections`` connections at once."""
        self.max_connections = max_connections
        self._slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        """A thread for the connection if a slot is free, else a 503 answered at once."""
        if not self._slots.acquire(blocking=False):
            self._refuse_busy(request, client_address)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread started: give the slot back
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _refuse_busy(self, request: socket.socket, client_address: Any) -> None:
        """Answer 503 in the API's error shape without a thread (reading a little of the
        request first, so closing does not reset the connection before the client reads)."""
        log.warning(
            "%s:%s refused: %d connections open already (max_connections)",
            *client_address[:2],
            self.max_connections,
        )
        message = (
            f"the local API serves at most {self.max_connections} connections at once; "
            "close idle ones or retry shortly"
        )
        response = error_response(
            503,
            "service_unavailable",
            message,
            cors=cors_header_pairs(None, self.cors_allow_origins),
        )
        head = ["HTTP/1.1 503 Service Unavailable", "Connection: close", "Retry-After: 1"]
        head += [f"{name}: {value}" for name, value in response.headers]
        head.append(f"Content-Length: {len(response.body)}")
        try:
            request.settimeout(REFUSAL_READ_S)
            with contextlib.suppress(TimeoutError):
                request.recv(65536)
            request.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body)
            request.shutdown(socket.SHUT_WR)
            request.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                while request.recv(65536):
                    pass
        except OSError as e:
            log.debug("refusing %s:%s failed: %s", *client_address[:2], e)

    @property
    def bound_address(self) -> tuple[str, int]:
        """``(host, port)`` the socket is bound to (port 0 resolved to the real one)."""
        host, port = self.server_address[:2]
        return (host if isinstance(host, str) else bytes(host).decode()), int(port)

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
        handler: the API Lambda handler (``handlers.api.handler``), called in this process.
        invoke: instead of ``handler``: how to invoke the function, ``invoke(event) ->
            reply``, raising when the invocation fails (e.g. through the Runtime API:
            ``deploy.local.lambda_service.LambdaFunction.call``): 502.
        cors_allow_origins: for the front's own answers: the API's setting
            (``handlers.config.Settings.cors_allow_origins``; default ``("*",)``).
        region: for the Lambda context's function ARN (default ``AWS_REGION``, else
            us-east-1).
        upload_limits: the API's ``POST /images`` limits (default: the handlers' defaults;
            pass ``UploadLimits.from_settings(settings)`` for a configured API).
        body_timeout_s: the longest a request body may take to arrive (408 after).
        idle_timeout_s: the longest any one read waits, and an idle connection is kept.
        max_connections: connections served at once; more are answered 503 at once.
        admit_upload: called before a new upload (``POST /images``, ``POST /uploads``)
            reaches the handler: ``None`` lets it through, a message refuses it with 507
            ``insufficient_storage`` (the local pipeline's memory bound).
        on_request_started: called with (method, percent-decoded path) when a proxied
            request arrives; each such call is followed by exactly one ``on_request``.
        on_request: called once per proxied request (not the static page) with a
            :class:`RequestRecord`, after the handler and before the answer is written
            (status 499 if the client left first); exceptions in it are logged and ignored.
        authorize: the authorizer hook (:func:`deploy.local.authorizer.authorizer_for`);
            ``None`` calls the function for every request (``AUTH_MODE=none``).
    """

    def __init__(
        self,
        handler: Handler | None,
        *,
        invoke: Invoke | None = None,
        host: str = "127.0.0.1",
        port: int = 8080,
        static_dir: Path = STATIC_DIR,
        max_body_bytes: int = MAX_BODY_BYTES,
        binary_media_types: tuple[str, ...] = BINARY_MEDIA_TYPES,
        cors_allow_origins: tuple[str, ...] = ("*",),
        region: str | None = None,
        upload_limits: UploadLimits | None = None,
        body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        admit_upload: Callable[[], str | None] | None = None,
        on_request_started: Callable[[str, str], None] | None = None,
        on_request: Callable[[RequestRecord], None] | None = None,
        authorize: Authorize | None = None,
    ) -> None:
        self._server = _Server((host, port), _RequestHandler)  # raises OSError if taken
        self._server.static_dir = static_dir
        self._server.max_body_bytes = max_body_bytes
        self._server.upload_limits = upload_limits or UploadLimits()
        self._server.body_timeout_s = body_timeout_s
        self._server.idle_timeout_s = idle_timeout_s
        self._server.set_max_connections(max_connections)
        self._server.admit_upload = admit_upload
        self._server.binary_media_types = binary_media_types
        self._server.cors_allow_origins = cors_allow_origins
        self._server.region = region or os.environ.get("AWS_REGION") or "us-east-1"
        if invoke is None:
            if handler is None:
                msg = "ApiFront needs a handler or an invoke callable"
                raise ValueError(msg)
            invoke = in_process(handler, self._server.region)
        self._server.invoke = invoke
        self._server.on_request_started = on_request_started
        self._server.on_request = on_request
        self._server.authorize = authorize
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` of the API (loopback when bound to all interfaces)."""
        host, port = self._server.bound_address
        host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"http://{host}:{port}"

    def allow_origins(self, origins: tuple[str, ...]) -> None:
        """Use ``origins`` for the front's own answers from now on (known once bound)."""
        self._server.cors_allow_origins = origins

    def start(self) -> str:
        """Serve in a daemon thread; return :attr:`url`."""
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": STOP_POLL_S},
            name="http-front",
            daemon=True,
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()


def add_limit_flags(parser: argparse.ArgumentParser) -> None:
    """``--body-timeout`` and ``--max-connections``: the front's bounds (the standalone
    front's and the local runner's flags)."""
    parser.add_argument(
        "--body-timeout",
        type=positive_float,
        default=DEFAULT_BODY_TIMEOUT_S,
        metavar="S",
        help="API: seconds a request body may take to arrive, 408 after (default: %(default)s)",
    )
    parser.add_argument(
        "--max-connections",
        type=positive_int,
        default=DEFAULT_MAX_CONNECTIONS,
        metavar="N",
        help="API: connections served at once, 503 beyond (default: %(default)s)",
    )


def main(argv: list[str] | None = None) -> int:
    """CLI: serve the API handler on a port until Ctrl-C or SIGTERM. Returns the exit code."""
    parser = standalone.service_parser(
        "deploy.local.http_front",
        "Serve a Lambda handler over HTTP as an API Gateway REST proxy would.",
        DEFAULT_HANDLER,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address (default: %(default)s)")
    parser.add_argument(
        "--port", type=port_number, default=8080, help="port, 0 = free (default: 8080)"
    )
    add_limit_flags(parser)
    args = parser.parse_args(argv)
    # The API's settings: its CORS origins for the front's own answers, checked now.
    settings = standalone.check_settings(
        parser, "api" if args.handler == DEFAULT_HANDLER else "any"
    )
    standalone.configure_logging()

    def log_request(record: RequestRecord) -> None:
        log.info(
            "%s %s -> %d (%.0f ms)",
            record.method,
            printable(record.path),
            record.status,
            record.duration_s * 1000,
        )

    front = ApiFront(
        standalone.load_handler(args.handler),
        host=args.host,
        port=args.port,
        cors_allow_origins=settings.cors_allow_origins,
        region=settings.region,
        upload_limits=UploadLimits.from_settings(settings),
        body_timeout_s=args.body_timeout,
        max_connections=args.max_connections,
        on_request=log_request,
    )

    def start() -> None:
        log.info("serving %s on %s; Ctrl-C to stop", args.handler, front.start())

    return standalone.run_until_signalled(start, front.stop)


if __name__ == "__main__":
    sys.exit(main())
