"""Invocations of one function, from the caller's ``invoke`` to the instance's reply.

The bookkeeping half of the Lambda service emulator (the HTTP half is
:mod:`deploy.local.lambda_service.runtime_api`). A caller queues an event; an instance's
``GET /runtime/invocation/next`` takes the oldest queued one and starts its clock (the
function timeout, counted from the hand-over as Lambda does); the instance's
``/response`` or ``/error`` POST, an init error, the instance's exit or the timeout
settles it. Every settled invocation has exactly one :class:`InvocationResult`.

Error payloads follow Lambda's shapes
(https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html and the Invoke API):

- a handler error: what the runtime posted, ``{"errorMessage", "errorType",
  "stackTrace"}`` (awslambdaric's format), unchanged;
- an init error (``/runtime/init/error``): what the runtime posted, e.g.
  ``{"errorType": "Runtime.ImportModuleError", "errorMessage": "Unable to import module
  ..."}``; it fails the oldest queued invocation, as an on-demand init failure fails the
  invoke that caused it;
- a timeout: ``{"errorType": "Sandbox.Timedout", "errorMessage": "RequestId: ID Error:
  Task timed out after 3.00 seconds"}``;
- the instance exited mid-invocation: ``{"errorType": "Runtime.ExitError", "errorMessage":
  "RequestId: ID Error: Runtime exited with error: exit status 1"}`` (or ``signal: killed``);
- no instance took the invocation within the queue limit: ``{"errorType":
  "TooManyRequestsException", "errorMessage": "Rate Exceeded. ..."}`` (Lambda's throttle);
- the service is stopping: ``{"errorType": "ServiceException", ...}``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)

LATE_IDS_KEPT = 1000  # request ids that timed out, remembered to accept their late replies


class Instance(Protocol):
    """What the queue needs of an instance it hands invocations to (None = unknown, external)."""

    name: str
    generation: int

    def is_current(self, generation: int) -> bool:
        """False once the process that made a ``/next`` call of ``generation`` is gone."""

    def note_next(self) -> None:
        """Called on each ``/next``: the first one ends the instance's init."""

    def init_duration_ms_once(self) -> float | None:
        """The init duration, the first time it is asked after init ended; else None."""

    def max_memory_used_mb(self) -> int | None:
        """Peak resident memory of the instance so far (None when unknown)."""


@dataclass(frozen=True, slots=True)
class InvocationResult:
    """How one invocation ended.

    ``ok``: the handler's response (``payload`` is its JSON); otherwise ``payload`` is
    Lambda's error object ``{"errorType", "errorMessage", ...}`` and ``error_type`` its type.
    ``status``: ``"success"``, ``"error"``, ``"timeout"``, ``"init_error"``, ``"exit"``,
    ``"throttled"`` or ``"stopped"``. ``headers``: of the runtime's POST (names lower case).
    """

    request_id: str
    status: str
    payload: Any
    duration_ms: float = 0.0
    init_duration_ms: float | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "success"

    @property
    def error_type(self) -> str | None:
        if self.ok:
            return None
        if isinstance(self.payload, dict) and self.payload.get("errorType"):
            return str(self.payload["errorType"])
        return self.headers.get("lambda-runtime-function-error-type") or "Unhandled"


class FunctionError(RuntimeError):
    """An invocation did not succeed; ``result`` says how (Lambda's error object)."""

    def __init__(self, function_name: str, result: InvocationResult) -> None:
        payload = result.payload if isinstance(result.payload, dict) else {}
        message = payload.get("errorMessage", result.payload)
        super().__init__(f"{function_name} {result.request_id}: {result.error_type}: {message}")
        self.result = result


@dataclass(eq=False)
class Invocation:
    """One queued or running invocation. ``payload``: the event as JSON bytes."""

    request_id: str
    payload: bytes
    timeout_s: float
    trace_id: str
    queued_at: float = field(default_factory=time.monotonic)
    started_at: float | None = None  # monotonic, at the hand-over
    deadline_ms: int = 0  # epoch ms, Lambda-Runtime-Deadline-Ms
    instance: Instance | None = None
    init_duration_ms: float | None = None
    result: InvocationResult | None = None
    dispatched: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def deadline_monotonic(self) -> float:
        assert self.started_at is not None
        return self.started_at + self.timeout_s


def new_trace_id() -> str:
    """An X-Ray trace header value, as Lambda passes in ``Lambda-Runtime-Trace-Id``."""
    root = f"1-{int(time.time()):08x}-{os.urandom(12).hex()}"
    return f"Root={root};Parent={os.urandom(8).hex()};Sampled=0"


def error_payload(error_type: str, message: str) -> dict[str, str]:
    """Lambda's error object for errors the service itself reports (not the runtime)."""
    return {"errorType": error_type, "errorMessage": message}


def timeout_payload(request_id: str, timeout_s: float) -> dict[str, str]:
    """Lambda's answer when an invocation runs past the function timeout."""
    return error_payload(
        "Sandbox.Timedout",
        f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds",
    )


def billed_duration_ms(duration_ms: float, init_duration_ms: float | None) -> int:
    """Billed Duration as Lambda reports it for a container image: the invoke duration
    rounded up to the next millisecond, plus the init duration on a cold start (container
    images bill their init; https://aws.amazon.com/lambda/pricing/)."""
    return math.ceil(duration_ms + (init_duration_ms or 0.0))


def report_line(result: InvocationResult, *, memory_mb: int, max_memory_used_mb: int | None) -> str:
    """Lambda's ``REPORT`` log line for ``result`` (fields tab-separated, as in CloudWatch).

    ``Max Memory Used`` is left out when unknown (external instances); ``Init Duration``
    only on an instance's first invocation; ``Status: timeout``/``error`` as Lambda adds them.
    """
    fields = [
        f"REPORT RequestId: {result.request_id}",
        f"Duration: {result.duration_ms:.2f} ms",
        f"Billed Duration: {billed_duration_ms(result.duration_ms, result.init_duration_ms)} ms",
        f"Memory Size: {memory_mb} MB",
    ]
    if max_memory_used_mb is not None:
        fields.append(f"Max Memory Used: {max_memory_used_mb} MB")
    if result.init_duration_ms is not None:
        fields.append(f"Init Duration: {result.init_duration_ms:.2f} ms")
    if result.status == "timeout":
        fields.append("Status: timeout")
    elif result.status in ("exit", "init_error"):
        fields.append(f"Status: error\tError Type: {result.error_type}")
    return "\t".join(fields)


class InvocationQueue:
    """The invocations of one function: queued, running, settled.

    Thread-safe (one condition). ``on_settled(invocation)`` is called once per settled
    invocation, outside the lock (for the REPORT line).
    """

    def __init__(self, function_name: str, on_settled: Any = None) -> None:
        self.function_name = function_name
        self.on_settled = on_settled
        self._changed = threading.Condition()
        self._queued: deque[Invocation] = deque()
        self._running: dict[str, Invocation] = {}
        self._late: deque[str] = deque(maxlen=LATE_IDS_KEPT)
        self._stopping = False

    # callers -------------------------------------------------------------------------
    def submit(self, event: Any, *, timeout_s: float, request_id: str | None = None) -> Invocation:
        """Queue ``event`` (JSON-serialisable); returns the invocation to wait on."""
        invocation = Invocation(
            request_id=request_id or str(uuid.uuid4()),
            payload=json.dumps(event).encode(),
            timeout_s=timeout_s,
            trace_id=new_trace_id(),
        )
        with self._changed:
            if self._stopping:
                self._settle_locked(
                    invocation,
                    "stopped",
                    error_payload("ServiceException", "the Lambda service is stopping"),
                )
            else:
                self._queued.append(invocation)
                self._changed.notify_all()
        self._after_settle(invocation)
        return invocation

    def withdraw(self, invocation: Invocation, result_status: str, payload: Any) -> bool:
        """Settle a still-queued invocation (e.g. no instance took it in time). False if it
        was handed over meanwhile."""
        with self._changed:
            if invocation not in self._queued:
                return False
            self._queued.remove(invocation)
            self._settle_locked(invocation, result_status, payload)
        self._after_settle(invocation)
        return True

    def time_out(self, invocation: Invocation) -> bool:
        """Settle a running invocation as timed out. False if it had already ended."""
        with self._changed:
            if self._running.get(invocation.request_id) is not invocation:
                return False
            del self._running[invocation.request_id]
            self._late.append(invocation.request_id)
            self._settle_locked(
                invocation, "timeout", timeout_payload(invocation.request_id, invocation.timeout_s)
            )
        self._after_settle(invocation)
        return True

    # instances (the Runtime API) ---------------------------------------------------------
    def take(self, instance: Instance | None) -> Invocation | None:
        """Block until an invocation is queued, hand it to ``instance``; None when stopping."""
        generation = instance.generation if instance is not None else 0
        if instance is not None:
            instance.note_next()
        with self._changed:
            while not self._queued or (
                instance is not None and not instance.is_current(generation)
            ):
                if self._stopping or (instance is not None and not instance.is_current(generation)):
                    return None
                self._changed.wait()
            invocation = self._queued.popleft()
            invocation.started_at = time.monotonic()
            invocation.deadline_ms = int(time.time() * 1000 + invocation.timeout_s * 1000)
            invocation.instance = instance
            if instance is not None:
                invocation.init_duration_ms = instance.init_duration_ms_once()
            self._running[invocation.request_id] = invocation
        invocation.dispatched.set()
        return invocation

    def complete(
        self, request_id: str, *, ok: bool, body: Any, headers: dict[str, str]
    ) -> bool | None:
        """The runtime posted ``/response`` (ok) or ``/error``. True: settled; False: a late
        reply to a timed-out invocation (ignored); None: an unknown request id."""
        with self._changed:
            invocation = self._running.pop(request_id, None)
            if invocation is None:
                return False if request_id in self._late else None
            self._settle_locked(invocation, "success" if ok else "error", body, headers)
        self._after_settle(invocation)
        return True

    def init_failed(self, body: Any, headers: dict[str, str]) -> Invocation | None:
        """The runtime posted ``/runtime/init/error``: fail the oldest queued invocation."""
        with self._changed:
            if not self._queued:
                return None
            invocation = self._queued.popleft()
            self._settle_locked(invocation, "init_error", body, headers)
        self._after_settle(invocation)
        return invocation

    def instance_exited(self, instance: Instance, how: str) -> Invocation | None:
        """``instance`` is gone (``how``: "exit status 1", "signal: killed"): fail what it ran."""
        with self._changed:
            running = [i for i in self._running.values() if i.instance is instance]
            if not running:
                return None
            invocation = running[0]
            del self._running[invocation.request_id]
            message = f"RequestId: {invocation.request_id} Error: Runtime exited with error: {how}"
            self._settle_locked(invocation, "exit", error_payload("Runtime.ExitError", message))
        self._after_settle(invocation)
        return invocation

    def wake(self) -> None:
        """Make waiting ``/next`` calls look again (an instance's process is gone)."""
        with self._changed:
            self._changed.notify_all()

    def running_on(self, instance: Instance) -> Invocation | None:
        """The invocation ``instance`` is running, if any."""
        with self._changed:
            return next((i for i in self._running.values() if i.instance is instance), None)

    def stop(self) -> None:
        """Release every ``/next`` waiter and fail what is queued or running."""
        with self._changed:
            self._stopping = True
            pending = [*self._queued, *self._running.values()]
            self._queued.clear()
            self._running.clear()
            for invocation in pending:
                self._settle_locked(
                    invocation,
                    "stopped",
                    error_payload("ServiceException", "the Lambda service is stopping"),
                )
            self._changed.notify_all()
        for invocation in pending:
            self._after_settle(invocation)

    # internals -----------------------------------------------------------------------
    def _settle_locked(
        self,
        invocation: Invocation,
        status: str,
        payload: Any,
        headers: dict[str, str] | None = None,
    ) -> None:
        duration_ms = (
            (time.monotonic() - invocation.started_at) * 1000 if invocation.started_at else 0.0
        )
        invocation.result = InvocationResult(
            request_id=invocation.request_id,
            status=status,
            payload=payload,
            duration_ms=duration_ms,
            init_duration_ms=invocation.init_duration_ms,
            headers=headers or {},
        )

    def _after_settle(self, invocation: Invocation) -> None:
        if invocation.result is None or invocation.done.is_set():
            return
        if self.on_settled is not None:  # first: the instance is still as it ended
            try:
                self.on_settled(invocation)
            except Exception:
                log.exception("on_settled callback failed")
        invocation.dispatched.set()
        invocation.done.set()
