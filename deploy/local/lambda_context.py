"""A stand-in for the context object Lambda passes to a handler, for the local runners.

Carries the attributes handlers and Powertools read (``aws_request_id``, ``function_name``,
``invoked_function_arn``, ``memory_limit_in_mb``, ...) and counts the function timeout down
in :meth:`LambdaContext.get_remaining_time_in_millis`
(https://docs.aws.amazon.com/lambda/latest/dg/python-context.html).
Used by deploy/local/dispatcher.py (resize) and deploy/local/http_front.py (api).
:func:`one_at_a_time` runs handler invocations one at a time, as one Lambda instance does.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[dict[str, Any], Any], Any]

ACCOUNT_ID = "123456789012"  # the emulators' default account


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str = "resize"
    function_version: str = "$LATEST"
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:resize"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/resize"
    log_stream_name: str = "local"
    timeout_s: float = 60.0
    started_at: float = field(default_factory=time.monotonic)
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left of ``timeout_s`` since this context was made (never negative)."""
        left_s = self.timeout_s - (time.monotonic() - self.started_at)
        return max(0, int(left_s * 1000))


def lambda_context(
    function_name: str,
    region: str,
    timeout_s: float,
    *,
    memory_limit_in_mb: int = 1024,
    aws_request_id: str | None = None,
) -> LambdaContext:
    """A fresh context for one invocation of ``function_name`` (a new request id unless
    ``aws_request_id`` is given, e.g. API Gateway's request id)."""
    return LambdaContext(
        function_name=function_name,
        invoked_function_arn=f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}",
        memory_limit_in_mb=memory_limit_in_mb,
        aws_request_id=aws_request_id or str(uuid.uuid4()),
        log_group_name=f"/aws/lambda/{function_name}",
        timeout_s=timeout_s,
    )


def one_at_a_time(handler: Handler, lock: threading.Lock) -> Handler:
    """``handler``, run while holding ``lock``: one invocation at a time across all threads.

    Why: both functions log through one Powertools logger whose per-record keys
    (``append_keys``: ``image_id``, ``key``, ``request_id``) are process-wide, so concurrent
    invocations in threads would tag each other's lines. On Lambda each instance runs one
    invocation at a time. Cost measured on the 27 sample photos (2 cores): none beyond noise
    (about 7 images/s either way; the emulator and the GIL set the pace). Only the
    invocation is serialised: polling, HTTP parsing and the journey lines stay concurrent.
    """

    def run(event: dict[str, Any], context: Any) -> Any:
        with lock:
            return handler(event, context)

    return run
