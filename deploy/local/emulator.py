"""The embedded AWS emulator: moto's server (S3, DynamoDB, SQS, ...) on a loopback port.

It speaks the real AWS wire protocol, so the handlers reach it with the same boto3 calls
they make on AWS, pointed at it by the SDK's own ``AWS_ENDPOINT_URL``.

Why not ``moto.server.ThreadedMotoServer`` as is: it binds the socket inside its thread, so a
port already in use leaves ``start()`` waiting forever, and it prints a banner on stdout (which
the local runner keeps for its one JSON ready line). This class binds in the caller's thread
(an ``OSError`` surfaces at once), serves in a daemon thread, and waits until the emulator
answers HTTP before returning. It also caches moto's per-request backend lookup (see
``_CachingDispatcher``), indexes moto's SQS standard queues so that no call costs more as the
queue grows (deploy/local/moto_sqs.py: a burst of 10,000 uploads drained at 2 images/s
without it), and takes the quadratic passes out of moto's DynamoDB ``UpdateItem``
validation (deploy/local/moto_dynamodb.py). With ``in_process_sdk=True`` the SDK clients of
this process reach it without a socket (deploy/local/emulator_transport.py).
"""

from __future__ import annotations

import errno
import logging
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from deploy.local import emulator_transport, moto_dynamodb, moto_sqs

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 15.0


class _CachingDispatcher(DomainDispatcherApplication):
    """moto's WSGI dispatcher, remembering which backend serves which host name.

    moto 5.2 resolves the backend of *every* request by listing its package directory
    (``os.listdir`` + an ``isdir`` per service) and trying every service URL pattern, under
    one global lock, and does it twice for signed requests to 127.0.0.1. That was about a
    quarter of the local pipeline's busy time. The answer depends only on the host name and
    moto's installed modules, so it is cached here; requests themselves are untouched.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._backend_for_host: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        try:
            return self._backend_for_host[host]
        except KeyError:
            backend = super().get_backend_for_host(host)
            self._backend_for_host[host] = backend
            return backend


class EmulatorError(RuntimeError):
    """The emulator could not start (port taken, or it never answered)."""


class EmulatorPortInUse(EmulatorError):
    """The emulator's ``host:port`` is already in use (``host`` and ``port`` attributes)."""

    def __init__(self, message: str, *, host: str, port: int) -> None:
        super().__init__(message)
        self.host = host
        self.port = port


class Emulator:
    """moto's server on ``host:port`` (port 0 picks a free one), running in a daemon thread.

    Usage::

        emulator = Emulator(port=0)
        endpoint_url = emulator.start()   # "http://127.0.0.1:54321"
        ...
        emulator.stop()

    Also a context manager. All services share one in-process state (moto's global
    backends), so S3 event notifications reach the SQS queues of the same emulator.

    ``in_process_sdk``: botocore sessions this process creates after :meth:`start` send their
    calls to ``endpoint_url`` straight to the emulator's application in the calling thread
    (:mod:`deploy.local.emulator_transport`); everything else still comes over HTTP.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 4566, *, in_process_sdk: bool = False
    ) -> None:
        self.host = host
        self.requested_port = port
        self.in_process_sdk = in_process_sdk
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._unroute: Any = None

    @property
    def port(self) -> int:
        """The bound port (the real one when 0 was asked for). Raises if not started."""
        if self._server is None:
            msg = "the emulator is not started"
            raise EmulatorError(msg)
        return int(self._server.server_address[1])

    @property
    def endpoint_url(self) -> str:
        """``http://host:port`` to give boto3 as ``endpoint_url`` / ``AWS_ENDPOINT_URL``."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def start(self, ready_timeout_s: float = READY_TIMEOUT_S) -> str:
        """Bind, serve in a daemon thread, wait until it answers; return the endpoint URL.

        Raises:
            EmulatorPortInUse: the port is taken.
            EmulatorError: cannot listen otherwise, or the server did not answer within
                ``ready_timeout_s`` seconds.
        """
        # werkzeug logs every request at INFO; the runner logs its own journey instead.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        moto_sqs.install()  # before any queue exists: queues are indexed when created
        moto_dynamodb.install()
        app = _CachingDispatcher(create_backend_app)
        try:
            self._server = make_server(
                self.host,
                self.requested_port,
                app,
                threaded=True,
                request_handler=MotoRequestHandler,
            )
        except (OSError, SystemExit) as e:  # werkzeug exits (!) when the port is taken
            in_use = not isinstance(e, OSError) or e.errno == errno.EADDRINUSE
            msg = (
                f"cannot listen on {self.host}:{self.requested_port} for the emulator: "
                f"{'address already in use' if in_use else e}"
            )
            if in_use:
                raise EmulatorPortInUse(msg, host=self.host, port=self.requested_port) from e
            raise EmulatorError(msg) from e
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="moto-server", daemon=True
        )
        self._thread.start()
        self._wait_ready(ready_timeout_s)
        if self.in_process_sdk:
            self._unroute = emulator_transport.route(self.endpoint_url, app)
        log.debug("emulator listening on %s", self.endpoint_url)
        return self.endpoint_url

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        url = f"{self.endpoint_url}/moto-api/data.json"
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    response.read()
                return
            except (urllib.error.URLError, OSError) as e:
                last_error = e
                time.sleep(0.05)
        self.stop()
        msg = f"the emulator did not answer at {url} within {timeout_s} s: {last_error}"
        raise EmulatorError(msg)

    def stop(self) -> None:
        """Stop serving and close the socket. Safe to call twice."""
        unroute, self._unroute = self._unroute, None
        if unroute is not None:
            unroute()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
