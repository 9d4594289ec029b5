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
validation and its responses (deploy/local/moto_dynamodb.py), and remembers two pure
lookups moto makes on every request (deploy/local/moto_core.py). With ``in_process_sdk=True``
the SDK clients of this process reach it without a socket
(deploy/local/emulator_transport.py).

Everything the emulator holds lives in this process's memory and is gone when it exits.
:func:`stored_bytes` tells how much S3 holds; a :class:`StorageBound` refuses new objects in
the guarded buckets (direct puts, presigned POSTs, multipart uploads) with 507
``InsufficientStorage`` once that passes its limit, so a long session cannot grow without
end; the local runner's HTTP front asks the same bound before ``POST /images`` and
``POST /uploads``.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any
from xml.sax.saxutils import escape

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.s3.models import s3_backends
from werkzeug.serving import BaseWSGIServer, make_server

from deploy.local import emulator_transport, moto_core, moto_dynamodb, moto_sqs
from deploy.local.moto_internals import MotoInternalsMissing
from imgproc.cli_report import human_size

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 15.0
STOP_POLL_S = 0.1  # how often the serving loop looks for a stop (serve_forever's poll)
WRITE_METHODS = frozenset({"PUT", "POST"})


def stored_bytes() -> int:
    """Bytes of every S3 object version the emulator holds (all buckets, every account).

    moto's state is process-wide, so this counts every emulator of the process. Read while
    requests may change it: a listing that changes under the count is counted again.
    """
    for _ in range(5):
        try:
            return sum(
                version.size
                for account in list(s3_backends.values())
                for backend in list(account.values())
                for bucket in list(backend.buckets.values())
                for versions in list(dict.values(bucket.keys))
                for version in list(versions)
            )
        except RuntimeError:  # "dictionary changed size during iteration"
            continue
    return 0


class StorageBound:
    """A limit on what the in-memory emulator stores, and the buckets it guards.

    Args:
        max_bytes: once :func:`stored_bytes` reaches this (decimal bytes), new objects are
            refused.
        buckets: the buckets whose new objects are refused (the uploads bucket: the
            renditions of uploads already accepted are always written).
        setting: how a person changes the limit, named in the message (a flag, say).
    """

    def __init__(self, max_bytes: int, buckets: Iterable[str], *, setting: str = "") -> None:
        self.max_bytes = max_bytes
        self.buckets = frozenset(buckets)
        self.setting = setting

    def refusal(self) -> str | None:
        """``None`` while under the limit, else why a new upload is refused."""
        stored = stored_bytes()
        if stored < self.max_bytes:
            return None
        setting = f" ({self.setting})" if self.setting else ""
        return (
            f"the local pipeline keeps everything in memory and holds {human_size(stored)}, "
            f"its limit is {human_size(self.max_bytes)}{setting}; new uploads are refused "
            "until it is restarted (which loses everything it holds)"
        )

    def guards(self, environ: dict[str, Any]) -> bool:
        """Whether a WSGI request writes to a guarded bucket (path or virtual-host style)."""
        if environ.get("REQUEST_METHOD") not in WRITE_METHODS:
            return False
        bucket = str(environ.get("PATH_INFO", "")).lstrip("/").split("/", 1)[0]
        host = str(environ.get("HTTP_HOST", "")).split(":", 1)[0]
        return bucket in self.buckets or any(host.startswith(f"{b}.") for b in self.buckets)


def _bounded(app: Callable[..., Any], bound: StorageBound) -> Callable[..., Any]:
    """``app`` refusing writes to the bound's buckets with S3's XML error shape, 507
    ``InsufficientStorage``, once the bound is reached (SDKs do not retry a 507)."""

    def bounded_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        message = bound.refusal() if bound.guards(environ) else None
        if message is None:
            return app(environ, start_response)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InsufficientStorage</Code>'
            f"<Message>{escape(message)}</Message></Error>"
        ).encode()
        start_response(
            "507 Insufficient Storage",
            [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return bounded_app


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
    ``storage_bound``: refuse new objects in its buckets past its limit (:class:`StorageBound`).

    ``in_process_sdk``: botocore sessions this process creates after :meth:`start` send their
    calls to ``endpoint_url`` straight to the emulator's application in the calling thread
    (:mod:`deploy.local.emulator_transport`); everything else still comes over HTTP.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 4566,
        *,
        storage_bound: StorageBound | None = None,
        in_process_sdk: bool = False,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.storage_bound = storage_bound
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
            EmulatorError: cannot listen otherwise, the server did not answer within
                ``ready_timeout_s`` seconds, or the installed moto is not the version the
                patches are written for (:mod:`deploy.local.moto_internals`).
        """
        # werkzeug logs every request at INFO; the runner logs its own journey instead.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        try:
            moto_sqs.install()  # before any queue exists: queues are indexed when created
            moto_dynamodb.install()
            moto_core.install()
        except MotoInternalsMissing as e:  # another moto than the patches are written for
            raise EmulatorError(str(e)) from e
        app: Callable[..., Any] = _CachingDispatcher(create_backend_app)
        if self.storage_bound is not None:
            app = _bounded(app, self.storage_bound)
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
            target=self._server.serve_forever,
            kwargs={"poll_interval": STOP_POLL_S},
            name="moto-server",
            daemon=True,
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
