"""A local stand-in for API Gateway (REST API, Lambda proxy integration) in front of a handler.

Each HTTP request becomes the proxy event API Gateway would send, the handler's reply
becomes the HTTP response (shapes in deploy/local/apigw_events.py). Like API Gateway:

- bodies whose Content-Type matches a binary media type arrive base64-encoded with
  ``isBase64Encoded: true``; other bodies arrive as text; no body is ``null``;
- requests over 10 MB are refused with 413 before the handler runs (the REST API payload
  quota), and so are events over Lambda's 6 MB synchronous invocation payload;
- a handler that raises or returns a malformed reply yields 502, and so does an invocation
  through the Lambda Runtime API that fails (handler error, init error, timeout: see
  ``ApiFront(invoke=...)`` and deploy/local/lambda_service/);
- routes map to resources as the template's REST API: ``/`` and ``/{proxy+}`` (with
  ``pathParameters``), so the handler routes on the path.

Every answer the front gives itself uses the project's error shape ``{"error": {"code",
"message"}}`` with the API's CORS headers (on AWS, gateway responses configured the same
way): 413 ``too_large`` (the engine's reason code, as the API's own 413), 411
``length_required`` (chunked bodies), 400 ``bad_request`` (a bad Content-Length), 502
``internal_error`` (the handler crashed or answered nonsense; API Gateway's own body there
is ``{"message": "Internal server error"}``).

Not API Gateway: ``GET /`` and ``GET /index.html`` serve the upload page from
deploy/local/static/index.html (on AWS that page is hosted elsewhere). A client that hangs up
mid-response is logged at DEBUG, without a traceback.

Standalone: ``python -m deploy.local.http_front --port 8080`` (handler ``handlers.api.handler``,
configured by the environment, read through ``handlers.config.Settings``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from deploy.local.apigw_events import (
    BINARY_MEDIA_TYPES,
    ProxyResponse,
    build_event,
    cors_header_pairs,
    error_response,
    parse_response,
    too_large_response,
)
from deploy.local.cli_args import port_number
from deploy.local.lambda_context import lambda_context
from handlers.config import ConfigError, Settings

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]
Invoke = Callable[[dict[str, Any]], Any]  # proxy event -> proxy reply; raises on a failure

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway REST API payload quota
MAX_EVENT_BYTES = 6 * 1024 * 1024  # Lambda synchronous invocation payload quota
API_TIMEOUT_S = 29  # API Gateway's default integration timeout, the api function's timeout
DRAIN_MAX_BYTES = 64 * 1024 * 1024
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})
CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)
CLIENT_CLOSED_STATUS = 499  # in a RequestRecord: the client left before its answer (nginx's)
DEFAULT_HANDLER = "handlers.api.handler"


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
        if length > self.server.max_body_bytes:
            self._drain(length)
            return (
                too_large_response(
                    self.command, path, length, self.server.max_body_bytes, cors=self._cors()
                ),
                length,
                True,
            )
        body = self.rfile.read(length) if length else b""
        host, port = self.server.server_address[:2]
        event = build_event(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            host=self.headers.get("Host", f"{host}:{port}"),
            port=int(port),
            binary_media_types=self.server.binary_media_types,
        )
        return self._invoke(event, len(body)), len(body), False

    def _cors(self) -> list[tuple[str, str]]:
        return cors_header_pairs(self.headers.get("Origin"), self.server.cors_allow_origins)

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
                event["httpMethod"],
                event["path"],
                body_bytes,
                MAX_EVENT_BYTES,
                what=f", {event_bytes} bytes as a Lambda event",
                cors=self._cors(),
            )
        try:
            return parse_response(self.server.invoke(event))
        except Exception:
            log.exception("API handler failed for %s %s", event["httpMethod"], event["path"])
            return error_response(502, "internal_error", "Internal server error", cors=self._cors())

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _handle


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
    daemon_threads = True
    invoke: Invoke
    static_dir: Path
    max_body_bytes: int
    binary_media_types: tuple[str, ...]
    cors_allow_origins: tuple[str, ...]
    region: str
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
        handler: the API Lambda handler (``handlers.api.handler``), called in this process.
        invoke: instead of ``handler``: how to invoke the function, ``invoke(event) ->
            reply``, raising when the invocation fails (e.g. through the Runtime API:
            ``deploy.local.lambda_service.LambdaFunction.call``): 502.
        cors_allow_origins: for the front's own answers: the API's setting
            (``handlers.config.Settings.cors_allow_origins``; default ``("*",)``).
        region: for the Lambda context's function ARN (default ``AWS_REGION``, else
            us-east-1).
        on_request_started: called with (method, percent-decoded path) when a proxied
            request arrives; each such call is followed by exactly one ``on_request``.
        on_request: called once per proxied request (not the static page) with a
            :class:`RequestRecord`, after the handler and before the answer is written
            (status 499 if the client left first); exceptions in it are logged and ignored.
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
        on_request_started: Callable[[str, str], None] | None = None,
        on_request: Callable[[RequestRecord], None] | None = None,
    ) -> None:
        self._server = _Server((host, port), _RequestHandler)  # raises OSError if taken
        self._server.static_dir = static_dir
        self._server.max_body_bytes = max_body_bytes
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
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` of the API (loopback when bound to all interfaces)."""
        host, port = self._server.server_address[:2]
        host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"http://{host}:{port}"

    def start(self) -> str:
        """Serve in a daemon thread; return :attr:`url`."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="http-front", daemon=True
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


def main(argv: list[str] | None = None) -> int:
    """CLI: serve the API handler on a port until Ctrl-C or SIGTERM. Returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m deploy.local.http_front",
        description="Serve a Lambda handler over HTTP as an API Gateway REST proxy would.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address (default: %(default)s)")
    parser.add_argument(
        "--port", type=port_number, default=8080, help="port, 0 = free (default: 8080)"
    )
    parser.add_argument(
        "--handler",
        default=DEFAULT_HANDLER,
        help="dotted path of the handler (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    try:  # the API's settings: its CORS origins for the front's own answers, checked now
        settings = Settings.from_env(
            os.environ, role="api" if args.handler == DEFAULT_HANDLER else "any"
        )
    except ConfigError as e:
        parser.exit(2, f"{parser.prog}: error: {e}\n")
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from deploy.local.dispatcher import load_handler

    def log_request(record: RequestRecord) -> None:
        log.info(
            "%s %s -> %d (%.0f ms)",
            record.method,
            record.path,
            record.status,
            record.duration_s * 1000,
        )

    front = ApiFront(
        load_handler(args.handler),
        host=args.host,
        port=args.port,
        cors_allow_origins=settings.cors_allow_origins,
        region=settings.region,
        on_request=log_request,
    )
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    log.info("serving %s on %s; Ctrl-C to stop", args.handler, front.start())
    stopping.wait()
    front.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
