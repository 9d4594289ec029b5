"""The Lambda Runtime API over HTTP, as a function's runtime (awslambdaric) calls it.

Endpoints (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):

- ``GET  /2018-06-01/runtime/invocation/next``: waits for the next invocation and answers
  200 with the event as the body and the headers ``Lambda-Runtime-Aws-Request-Id``,
  ``Lambda-Runtime-Deadline-Ms`` (epoch ms), ``Lambda-Runtime-Invoked-Function-Arn``,
  ``Lambda-Runtime-Trace-Id``. The request is held open while nothing is queued (Lambda
  freezes the sandbox there).
- ``POST /2018-06-01/runtime/invocation/{id}/response``: the handler's result -> 202.
- ``POST /2018-06-01/runtime/invocation/{id}/error``: Lambda's error JSON (``errorMessage``,
  ``errorType``, ``stackTrace``) with ``Lambda-Runtime-Function-Error-Type`` -> 202.
- ``POST /2018-06-01/runtime/init/error``: the handler could not be loaded -> 202.

A reply for an unknown request id gets 400 ``InvalidRequestID`` (as Lambda's); a late reply
for an invocation that already timed out gets 202 and is dropped, so an external instance
(which Lambda would have killed) keeps serving. One :class:`RuntimeApiServer` serves one
address for one function; ``instance`` says who calls it (a process this service started,
for timeouts and the REPORT line) or None (external instances: containers).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from deploy.local.lambda_service.invocations import Instance, InvocationQueue

log = logging.getLogger(__name__)

PREFIX = "/2018-06-01/runtime"
ACCEPTED = b'{"status":"OK"}'
CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive: the runtime reuses its connection
    # Headers and body go out in two writes: without TCP_NODELAY the body waits for the
    # runtime's delayed ACK (40 ms per invocation).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, error_type: str, message: str) -> None:
        body = json.dumps({"errorType": error_type, "errorMessage": message}).encode()
        self._reply(status, body)

    def do_GET(self) -> None:
        if self.path != f"{PREFIX}/invocation/next":
            self._error(404, "NotFound", f"no such endpoint: GET {self.path}")
            return
        server = self.server
        invocation = server.queue.take(server.instance)
        if invocation is None:  # stopping: drop the connection, the runtime exits
            self.close_connection = True
            return
        self._reply(
            200,
            invocation.payload,
            {
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": server.function_arn,
                "Lambda-Runtime-Trace-Id": invocation.trace_id,
            },
        )

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        headers = {k.lower(): v for k, v in self.headers.items()}
        parts = self.path.removeprefix(PREFIX).strip("/").split("/")
        queue = self.server.queue
        if parts == ["init", "error"]:
            failed = queue.init_failed(body, headers)
            log.warning(
                "%s: init error%s: %s",
                queue.function_name,
                f" (fails {failed.request_id})" if failed else "",
                body.get("errorMessage") if isinstance(body, dict) else body,
            )
            self._reply(202, ACCEPTED)
            return
        if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            settled = queue.complete(
                parts[1], ok=parts[2] == "response", body=body, headers=headers
            )
            if settled is None:
                self._error(400, "InvalidRequestID", f"unknown request id {parts[1]!r}")
                return
            self._reply(202, ACCEPTED)
            return
        self._error(404, "NotFound", f"no such endpoint: POST {self.path}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    queue: InvocationQueue
    instance: Instance | None
    function_arn: str

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A runtime that went away (killed, stopped) is not worth a traceback."""
        if isinstance(sys.exc_info()[1], CLIENT_GONE):
            log.debug("runtime %s:%s went away", *client_address[:2])
            return
        super().handle_error(request, client_address)


class RuntimeApiServer:
    """The Runtime API for ``queue``'s function on ``host:port`` (0: a free port).

    Binds in the constructor (``OSError`` when the address is taken); :meth:`start` serves in
    a daemon thread; :meth:`stop` closes it (waiting ``/next`` calls are released by
    ``queue.stop()``).
    """

    def __init__(
        self,
        queue: InvocationQueue,
        *,
        function_arn: str,
        host: str = "127.0.0.1",
        port: int = 0,
        instance: Instance | None = None,
    ) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.queue = queue
        self._server.instance = instance
        self._server.function_arn = function_arn
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        """``host:port`` for ``AWS_LAMBDA_RUNTIME_API`` (loopback when bound to all)."""
        host, port = self._server.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else str(host)
        return f"{shown}:{port}"

    def start(self) -> str:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # how long stop() waits for the loop
            name=f"runtime-api-{self.address}",
            daemon=True,
        )
        self._thread.start()
        return self.address

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=2)
            self._thread = None
        self._server.server_close()
