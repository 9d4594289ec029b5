"""Function instances as processes: ``python -m awslambdaric HANDLER``, one per sandbox.

Each :class:`ProcessInstance` is one Lambda execution environment: a process running the
function's own command (the image's ENTRYPOINT + CMD without the container) with
``AWS_LAMBDA_RUNTIME_API`` pointing at a Runtime API of its own on loopback (as every Lambda
sandbox has its own), so the service knows which process runs which invocation:

- a timeout kills the process (SIGKILL) and a new one starts at once;
- a process that exits (init error, crash, out of memory) is replaced; one that never
  reached its first ``/next`` is restarted with back-off (0.5 s doubling to 10 s), so a
  handler that cannot be imported is not restarted in a tight loop;
- init duration = time from process start to its first ``/next`` call;
- memory limit: ``RLIMIT_AS`` (virtual address space) of ``memory_mb`` MB, set in the child
  before it execs. It caps every mapping the process makes (heap, thread stacks, shared
  libraries), so it bites earlier than Lambda's limit on resident memory would: an
  allocation over it raises ``MemoryError`` in the handler (reported as a handler error);
- Max Memory Used = the process's peak resident set (``VmHWM`` in /proc), as Lambda's is
  the sandbox's peak.

The process's stdout and stderr (the function's logs) go to this process's stderr.
"""

from __future__ import annotations

import logging
import math
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from deploy.local.lambda_service.invocations import InvocationQueue
from deploy.local.lambda_service.runtime_api import RuntimeApiServer

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[3]
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 10.0
STOP_GRACE_S = 0.3  # SIGTERM, then SIGKILL


def backoff_s(failures: int) -> float:
    """Seconds to wait before restarting after ``failures`` consecutive failed inits."""
    if failures <= 0:
        return 0.0
    return min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (failures - 1))


def exit_description(returncode: int) -> str:
    """How a process ended, in the words Lambda uses (``exit status 1``, ``signal: killed``)."""
    if returncode < 0:
        name = signal.strsignal(-returncode) or f"signal {-returncode}"
        return f"signal: {name.lower()}"
    return f"exit status {returncode}"


def peak_rss_mb(pid: int) -> int | None:
    """Peak resident memory of ``pid`` in MB (``VmHWM``), None if unreadable."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return math.ceil(int(line.split()[1]) / 1024)
    except (OSError, ValueError, IndexError):
        return None
    return None


def stderr_fd() -> int:
    """Where an instance's output goes: this process's stderr (fd 2 when it is replaced by
    an object without a descriptor, e.g. under pytest's ``capsys``)."""
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return 2


def lambda_environment(
    base: Mapping[str, str],
    *,
    function_name: str,
    handler: str,
    memory_mb: int,
    runtime_api: str,
    task_root: Path,
) -> dict[str, str]:
    """``base`` plus the variables Lambda sets in every execution environment
    (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime)."""
    env = dict(base)
    env.update(
        AWS_LAMBDA_RUNTIME_API=runtime_api,
        AWS_LAMBDA_FUNCTION_NAME=function_name,
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(memory_mb),
        AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{function_name}",
        AWS_LAMBDA_LOG_STREAM_NAME=f"local/{function_name}/{os.getpid()}",
        AWS_LAMBDA_INITIALIZATION_TYPE="on-demand",
        LAMBDA_TASK_ROOT=str(task_root),
        _HANDLER=handler,
    )
    return env


class ProcessInstance:
    """One instance of a function as a supervised process (see the module docstring).

    Args:
        name: for logs, e.g. ``resize-1``.
        handler: the function's command, e.g. ``handlers.resize.handler``.
        queue: the function's invocations.
        environ: the function's environment (Lambda's own variables are added).
        memory_mb: ``RLIMIT_AS`` and ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``.
        cwd: the task root (the project root by default: handlers import from there).
    """

    def __init__(
        self,
        name: str,
        *,
        function_name: str,
        handler: str,
        queue: InvocationQueue,
        function_arn: str,
        environ: Mapping[str, str],
        memory_mb: int,
        cwd: Path = PROJECT_ROOT,
        host: str = "127.0.0.1",
    ) -> None:
        self.name = name
        self.function_name = function_name
        self.handler = handler
        self.queue = queue
        self.environ = environ
        self.memory_mb = memory_mb
        self.cwd = cwd
        self.server = RuntimeApiServer(queue, function_arn=function_arn, host=host, instance=self)
        self.process: subprocess.Popen[bytes] | None = None
        self.generation = 0
        self.starts = 0
        self.last_init_duration_ms: float | None = None
        self._lock = threading.Lock()
        self._started_at = 0.0
        self._first_next_at: float | None = None
        self._init_reported = False
        self._failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # the Instance protocol ------------------------------------------------------------
    def note_next(self) -> None:
        with self._lock:
            if self._first_next_at is None:
                self._first_next_at = time.monotonic()
                self._failures = 0
                self.last_init_duration_ms = (self._first_next_at - self._started_at) * 1000
                log.debug("%s: init %.1f ms", self.name, self.last_init_duration_ms)

    def init_duration_ms_once(self) -> float | None:
        with self._lock:
            if self._first_next_at is None or self._init_reported:
                return None
            self._init_reported = True
            return (self._first_next_at - self._started_at) * 1000

    def max_memory_used_mb(self) -> int | None:
        process = self.process
        return peak_rss_mb(process.pid) if process is not None else None

    def is_current(self, generation: int) -> bool:
        """Whether a ``/next`` call made in ``generation`` still belongs to a live process."""
        return generation == self.generation and not self._stop.is_set()

    # life cycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Serve this instance's Runtime API and start (and keep restarting) the process."""
        self.server.start()
        self._spawn()
        self._thread = threading.Thread(
            target=self._supervise, name=f"instance-{self.name}", daemon=True
        )
        self._thread.start()

    def _spawn(self) -> None:
        env = lambda_environment(
            self.environ,
            function_name=self.function_name,
            handler=self.handler,
            memory_mb=self.memory_mb,
            runtime_api=self.server.address,
            task_root=self.cwd,
        )
        limit_bytes = self.memory_mb * 1024 * 1024

        def limit_memory() -> None:  # in the child, before exec: one system call, no locks
            resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

        with self._lock:
            self._started_at = time.monotonic()
            self._first_next_at = None
            self._init_reported = False
            self.starts += 1
            self.process = subprocess.Popen(
                [sys.executable, "-m", "awslambdaric", self.handler],
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stderr_fd(),
                preexec_fn=limit_memory,  # setrlimit only: safe with threads
                start_new_session=True,  # a terminal's Ctrl-C reaches us, not the instances
            )

    def _supervise(self) -> None:
        while True:
            process = self.process
            assert process is not None
            returncode = process.wait()
            if self._stop.is_set():
                return
            with self._lock:
                reached_next = self._first_next_at is not None
                if not reached_next:
                    self._failures += 1
                failures = self._failures
                self.generation += 1
            self.queue.wake()  # /next calls of the dead process give up
            failed = self.queue.instance_exited(self, exit_description(returncode))
            delay = 0.0 if reached_next else backoff_s(failures)
            log.warning(
                "%s: %s exited (%s)%s; restarting%s",
                self.function_name,
                self.name,
                exit_description(returncode),
                f" running {failed.request_id}" if failed else "",
                f" in {delay:.1f} s" if delay else "",
            )
            if self._stop.wait(delay):
                return
            self._spawn()

    def kill(self) -> None:
        """Kill the process (a timeout); the supervisor starts a new one."""
        process = self.process
        if process is not None and process.poll() is None:
            process.kill()

    def request_stop(self) -> None:
        """No more restarts; SIGTERM the process (:meth:`stop` finishes the job)."""
        self._stop.set()
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()

    def stop(self) -> None:
        """Stop the process (SIGTERM, SIGKILL after 0.3 s) and the Runtime API; no restart."""
        self.request_stop()
        process = self.process
        if process is not None and process.poll() is None:
            try:
                process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self.server.stop()
        if self._thread is not None:
            self._thread.join(timeout=1)
