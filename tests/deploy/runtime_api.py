"""A stand-in for the Lambda Runtime API, enough for ``python -m awslambdaric``.

The real one lives inside Lambda (and the Runtime Interface Emulator, which cannot be
installed here). Endpoints, as in
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html:

- ``GET  /2018-06-01/runtime/invocation/next``: the next queued event, with the
  ``Lambda-Runtime-Aws-Request-Id``, ``-Deadline-Ms``, ``-Invoked-Function-Arn`` and
  ``-Trace-Id`` headers. With no event left the request is held open (as Lambda freezes
  the sandbox between invocations) until the test stops the client.
- ``POST /2018-06-01/runtime/invocation/{id}/response``: the handler's result.
- ``POST /2018-06-01/runtime/invocation/{id}/error``: an error, Lambda's error JSON.
- ``POST /2018-06-01/runtime/init/error``: the handler could not be loaded.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:resize"


@dataclass
class Posted:
    """One POST the client made: which kind, for which request id, body and headers."""

    kind: str  # "response", "error" or "init_error"
    request_id: str | None
    body: Any
    headers: dict[str, str]  # names in lower case


@dataclass
class RuntimeApiState:
    events: deque[tuple[str, Any]] = field(default_factory=deque)
    posted: list[Posted] = field(default_factory=list)
    next_calls: int = 0
    changed: threading.Condition = field(default_factory=threading.Condition)
    stopping: threading.Event = field(default_factory=threading.Event)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        state = self.server.state
        if self.path != f"{PREFIX}/invocation/next":
            self.send_error(404)
            return
        with state.changed:
            state.next_calls += 1
            state.changed.notify_all()
            event = state.events.popleft() if state.events else None
        if event is None:  # hold the client, as a frozen sandbox would be held
            state.stopping.wait()
            self.close_connection = True  # the client is usually gone by now
            return
        request_id, payload = event
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN)
        self.send_header(
            "Lambda-Runtime-Trace-Id", "Root=1-5f84c7a3-0123456789abcdef01234567;Parent=1;Sampled=0"
        )
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        parts = self.path.removeprefix(PREFIX).strip("/").split("/")
        if parts == ["init", "error"]:
            kind, request_id = "init_error", None
        elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            kind, request_id = parts[2], parts[1]
        else:
            self.send_error(404)
            return
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self.send_response(202)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
        state = self.server.state
        with state.changed:
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.posted.append(Posted(kind, request_id, body, headers))
            state.changed.notify_all()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: RuntimeApiState


class RuntimeApi:
    """Serve the stand-in on 127.0.0.1 (a free port) in a thread.

    Use :attr:`address` as ``AWS_LAMBDA_RUNTIME_API``; queue events with :meth:`invoke`.
    """

    def __init__(self) -> None:
        self.state = RuntimeApiState()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def invoke(self, request_id: str, event: Any) -> None:
        """Queue ``event``; the client's next ``/next`` call gets it."""
        with self.state.changed:
            self.state.events.append((request_id, event))

    def wait_for(self, *, posts: int = 0, next_calls: int = 0, timeout_s: float = 30.0) -> bool:
        """Wait until at least ``posts`` POSTs and ``next_calls`` /next calls were seen."""
        deadline = time.monotonic() + timeout_s
        with self.state.changed:
            while len(self.state.posted) < posts or self.state.next_calls < next_calls:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.state.changed.wait(left)
        return True

    def __enter__(self) -> RuntimeApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.state.stopping.set()
        self._server.shutdown()
        self._server.server_close()
