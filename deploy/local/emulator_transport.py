"""SDK calls from this process to the embedded emulator, answered in the calling thread
without a socket.

Why: in the embedded pipeline the handlers, the dispatcher and the journey run in the same
process as the emulator, yet every boto3 call went out through HTTP on loopback: botocore's
urllib3 client on one side, werkzeug's HTTP server (a thread per connection) on the other.
That transport was about half the CPU of each call (measured: ``GetItem`` 2.0-2.7 ms ->
1.1 ms; a 500 kB ``PutObject`` 5.3 -> 2.9 ms; a 500 kB ``GetObject`` 3.3 -> 1.6 ms).

How: a botocore ``before-send`` handler (the hook botocore's own Stubber and moto's
``mock_aws`` use) takes each prepared request addressed to a routed endpoint, builds the WSGI
environ werkzeug's server would build for it (``werkzeug.serving.WSGIRequestHandler.
make_environ``, with moto's ``MotoRequestHandler`` additions: underscores kept in
``x-amz-meta-*`` header names), calls the emulator's WSGI application (the same one its HTTP
server runs) and hands botocore the response. Requests, responses and moto's state are the
same; only the bytes do not cross a socket. Requests to any other endpoint, and clients of
other processes (``--functions process``, the AWS CLI, browsers, presigned URLs) go over
HTTP as before.

The handler is registered in ``botocore.handlers.BUILTIN_HANDLERS`` when this module is
imported, so it is part of every botocore session created afterwards (as moto's own
stubber is); it does nothing until :func:`route` names an endpoint.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.handlers import BUILTIN_HANDLERS
from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_routes: dict[tuple[str, str], WsgiApp] = {}  # (scheme, host:port) -> WSGI application
_routes_lock = threading.Lock()


class _RawBody(io.BytesIO):
    """A response body as urllib3's raw response offers it to botocore."""

    def stream(self, amt: int = 65536, decode_content: bool | None = None) -> Any:
        while chunk := self.read(amt):
            yield chunk


def route(endpoint_url: str, app: WsgiApp) -> Callable[[], None]:
    """Answer SDK calls to ``endpoint_url`` (``http://host:port``) with ``app`` in the
    calling thread, for botocore sessions created from now on. Returns the function that
    ends the routing (calls go over HTTP again)."""
    parts = urlsplit(endpoint_url)
    key = (parts.scheme, parts.netloc)
    with _routes_lock:
        _routes[key] = app

    def unroute() -> None:
        with _routes_lock:
            if _routes.get(key) is app:
                del _routes[key]

    return unroute


def _wsgi_text(text: str) -> str:
    """WSGI's latin-1 transport of a text value (werkzeug's ``_wsgi_encoding_dance``)."""
    return text.encode().decode("latin1")


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):  # a file, or botocore's aws-chunked wrapper
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return b"".join(body)  # an iterable of chunks


def wsgi_environ(request: AWSPreparedRequest, body: bytes) -> dict[str, Any]:
    """The environ werkzeug's HTTP server (as moto runs it) would make for ``request``."""
    parts = urlsplit(request.url)
    raw_path = parts.path + (f"?{parts.query}" if parts.query else "")
    host, _, port = parts.netloc.partition(":")
    environ: dict[str, Any] = {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": parts.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": _wsgi_text(unquote(parts.path)),
        "QUERY_STRING": _wsgi_text(parts.query),
        "REQUEST_URI": _wsgi_text(raw_path),
        "RAW_URI": _wsgi_text(raw_path),
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": 0,
        "SERVER_NAME": host,
        "SERVER_PORT": port or ("443" if parts.scheme == "https" else "80"),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": parts.netloc,
    }
    headers: list[tuple[str, str]] = [
        (name, value.decode("latin-1") if isinstance(value, bytes) else str(value))
        for name, value in request.headers.items()
    ]
    headers = [(n, v) for n, v in headers if n.lower() not in ("content-length", "host")]
    headers.append(("Content-Length", str(len(body))))
    preserved: dict[str, str] = {}
    for name, value in headers:
        if "_" in name and not name.lower().startswith("x-amz-meta-"):
            continue  # werkzeug drops these; moto keeps only metadata names
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = f"HTTP_{key}"
        if "_" in name:
            preserved.setdefault(key, name)
        value = value.replace("\r\n", "")
        environ[key] = f"{environ[key]},{value}" if key in environ and key != "HTTP_HOST" else value
    environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = preserved
    return environ


def _send_in_process(request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
    """botocore ``before-send``: the response from a routed emulator, else ``None`` (HTTP)."""
    if not _routes:
        return None
    parts = urlsplit(request.url)
    app = _routes.get((parts.scheme, parts.netloc))
    if app is None:
        return None
    environ = wsgi_environ(request, _body_bytes(request.body))
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started["status"], started["headers"] = status, headers
        return lambda data: None  # the legacy write(): moto does not use it

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    status = int(str(started["status"]).split(" ", 1)[0])
    headers = dict(started["headers"])
    return AWSResponse(request.url, status, headers, _RawBody(body))  # type: ignore[arg-type]


BUILTIN_HANDLERS.append(("before-send", _send_in_process))
