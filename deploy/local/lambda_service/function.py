"""One emulated Lambda function: its configuration, invocation queue, Runtime API and instances.

``LambdaFunction(config).start()``; then ``invoke(event)`` (an :class:`InvocationResult`,
never raises for a function error) or ``call(event)`` (the response, or
:class:`FunctionError`). Concurrency is the number of instances: each runs one invocation at
a time, as in Lambda; more callers queue.

Two kinds of instances:

- processes this service starts (``external=False``): ``instances`` copies of
  ``python -m awslambdaric HANDLER``, each with a Runtime API of its own
  (:mod:`deploy.local.lambda_service.instances`);
- external instances (``external=True``): started by someone else (containers of the
  project's image with ``AWS_LAMBDA_RUNTIME_API`` set to :attr:`LambdaFunction.runtime_api`);
  the service only serves the Runtime API. A timeout then fails the invocation with Lambda's
  timeout error but cannot stop the instance; its late reply is dropped. An external
  instance that dies mid-invocation is not seen: its invocation ends as a timeout.

Every settled invocation logs Lambda's ``REPORT`` line on the ``lambda.<name>`` logger
(:func:`deploy.local.lambda_service.invocations.report_line`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from deploy.local.lambda_context import ACCOUNT_ID
from deploy.local.lambda_service.instances import PROJECT_ROOT, ProcessInstance
from deploy.local.lambda_service.invocations import (
    FunctionError,
    Invocation,
    InvocationQueue,
    InvocationResult,
    error_payload,
    report_line,
)
from deploy.local.lambda_service.runtime_api import RuntimeApiServer

DEFAULT_TIMEOUT_S = 60.0  # the resize function's timeout in deploy/aws/template.yaml
DEFAULT_MEMORY_MB = 1024  # its MemorySize there
DEFAULT_QUEUE_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class FunctionConfig:
    """How to run one function.

    Args:
        name: the function name (ARN, log group, logs).
        handler: the command of a process instance, e.g. ``handlers.resize.handler``
            (ignored for external instances).
        instances: concurrency: processes started, or external instances expected.
        timeout_s: per invocation, from the hand-over to the instance.
        memory_mb: ``RLIMIT_AS`` of a process instance; reported as Memory Size.
        external: instances are started by someone else; start no process.
        runtime_api: ``(host, port)`` served for external instances (port 0: a free one);
            None: not served (process instances have their own).
        environ: the process instances' environment (default: this process's).
        queue_timeout_s: longest wait for a free instance before the invocation fails
            as throttled.
        region: for the function ARN.
    """

    name: str
    handler: str = ""
    instances: int = 1
    timeout_s: float = DEFAULT_TIMEOUT_S
    memory_mb: int = DEFAULT_MEMORY_MB
    external: bool = False
    runtime_api: tuple[str, int] | None = None
    environ: Mapping[str, str] | None = field(default=None, repr=False)
    queue_timeout_s: float = DEFAULT_QUEUE_TIMEOUT_S
    region: str = "us-east-1"

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.name}"


class LambdaFunction:
    """A function served through the Runtime API (see the module docstring)."""

    def __init__(self, config: FunctionConfig) -> None:
        if not config.external and not config.handler:
            msg = f"function {config.name}: a handler is needed to start process instances"
            raise ValueError(msg)
        if config.instances < 1:
            msg = f"function {config.name}: instances must be at least 1, got {config.instances}"
            raise ValueError(msg)
        self.config = config
        self.report_log = logging.getLogger(f"lambda.{config.name}")
        self.queue = InvocationQueue(config.name, on_settled=self._report)
        self.server: RuntimeApiServer | None = None
        runtime_api = config.runtime_api or (("127.0.0.1", 0) if config.external else None)
        if runtime_api is not None:  # binds now: OSError if the address is taken
            host, port = runtime_api
            self.server = RuntimeApiServer(
                self.queue, function_arn=config.arn, host=host, port=port
            )
        self.instances: list[ProcessInstance] = []
        if not config.external:
            environ = config.environ if config.environ is not None else os.environ
            self.instances = [
                ProcessInstance(
                    f"{config.name}-{n + 1}",
                    function_name=config.name,
                    handler=config.handler,
                    queue=self.queue,
                    function_arn=config.arn,
                    environ=environ,
                    memory_mb=config.memory_mb,
                    cwd=PROJECT_ROOT,
                )
                for n in range(config.instances)
            ]

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def runtime_api(self) -> str | None:
        """``host:port`` external instances use as ``AWS_LAMBDA_RUNTIME_API`` (None: none)."""
        return self.server.address if self.server is not None else None

    def start(self) -> None:
        """Serve the Runtime API and start the process instances (they init in parallel)."""
        if self.server is not None:
            self.server.start()
        for instance in self.instances:
            instance.start()

    def stop(self) -> None:
        """Fail what is queued or running, stop the instances and the Runtime API."""
        self.queue.stop()
        for instance in self.instances:  # all at once: each may take its grace period
            instance.request_stop()
        for instance in self.instances:
            instance.stop()
        if self.server is not None:
            self.server.stop()

    def invoke(self, event: Any, *, request_id: str | None = None) -> InvocationResult:
        """Run one invocation of ``event`` (JSON-serialisable) and wait for its result.

        Waits up to ``queue_timeout_s`` for a free instance, then up to ``timeout_s`` for
        the reply; a timeout kills and replaces a process instance.
        """
        config = self.config
        invocation = self.queue.submit(event, timeout_s=config.timeout_s, request_id=request_id)
        if not invocation.dispatched.wait(config.queue_timeout_s):
            message = (
                f"Rate Exceeded. No instance of {config.name} took the invocation within "
                f"{config.queue_timeout_s:.0f} s"
            )
            self.queue.withdraw(
                invocation, "throttled", error_payload("TooManyRequestsException", message)
            )
        if not invocation.done.is_set() and invocation.started_at is not None:
            left_s = invocation.deadline_monotonic - time.monotonic()
            if not invocation.done.wait(max(0.0, left_s)) and self.queue.time_out(invocation):
                instance = invocation.instance
                if isinstance(instance, ProcessInstance):
                    instance.kill()
        invocation.done.wait()
        assert invocation.result is not None
        return invocation.result

    def call(self, event: Any, *, request_id: str | None = None) -> Any:
        """The function's response to ``event``.

        Raises:
            FunctionError: the invocation failed (handler error, init error, timeout, ...);
                its ``result.payload`` is Lambda's error object.
        """
        result = self.invoke(event, request_id=request_id)
        if not result.ok:
            raise FunctionError(self.name, result)
        return result.payload

    def _report(self, invocation: Invocation) -> None:
        result = invocation.result
        if result is None or result.status in ("stopped", "throttled"):
            return
        instance = invocation.instance
        memory = instance.max_memory_used_mb() if instance is not None else None
        self.report_log.info(
            report_line(result, memory_mb=self.config.memory_mb, max_memory_used_mb=memory)
        )
