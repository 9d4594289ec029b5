"""``python -m deploy.local.lambda_service``: Lambda functions behind the Runtime API, their
SQS event source mapping and the API front, in one process.

Usage (each ``NAME=...`` flag may be repeated, one per function)::

    python -m deploy.local.lambda_service
        [--function NAME=HANDLER]...      process instances: python -m awslambdaric HANDLER
        [--external NAME]...              external instances (containers): start nothing,
                                          serve NAME's Runtime API for them
        [--runtime-api NAME=HOST:PORT]... where NAME's Runtime API listens (external
                                          instances' AWS_LAMBDA_RUNTIME_API); default
                                          127.0.0.1:0 (a free port) for external functions
        [--instances NAME=N]...           concurrency: processes started, or external
                                          instances expected (SQS pollers); default 1
        [--timeout NAME=S]...             seconds per invocation; default 60
        [--memory NAME=MB]...             Memory Size; RLIMIT_AS of process instances;
                                          default 1024
        [--sqs NAME=QUEUE]...             SQS event source mapping: queue URL or name
        [--batch-size N]                  records per invocation, 1-10; default 10
        [--batch-window-s S]              batching window, 0-300 s; default 0
        [--api HOST:PORT=NAME]            the API front (API Gateway proxy events, upload
                                          page at /) invoking NAME
        [-q | -v]                         warnings only | debug logs

Examples::

    # compose: functions are the image's containers, with AWS_LAMBDA_RUNTIME_API=emulator:9001/9002
    python -m deploy.local.lambda_service --external resize --external api \\
        --runtime-api resize=0.0.0.0:9001 --runtime-api api=0.0.0.0:9002 \\
        --timeout api=29 --memory api=512 \\
        --sqs resize=image-uploads-events --api 0.0.0.0:8080=api

    # no containers: the functions as processes (AWS_ENDPOINT_URL etc. from the environment)
    python -m deploy.local.lambda_service --function resize=handlers.resize.handler \\
        --instances resize=2 --sqs resize=http://127.0.0.1:4566/000000000000/image-uploads-events \\
        --function api=handlers.api.handler --api 127.0.0.1:8080=api

The SQS queue is reached with boto3 and the SDK's own variables (``AWS_ENDPOINT_URL``,
``AWS_REGION``, credentials); a queue that does not exist yet is retried (1 s doubling to
30 s). Process instances get this process's environment plus Lambda's own variables.
The front's own answers (413, 502) carry the CORS origins of ``CORS_ALLOW_ORIGINS``
(as handlers.config reads it).

Once everything listens, one JSON line goes to stdout::

    {"functions": {"resize": {"runtime_api": "0.0.0.0:9001", "external": true,
                              "instances": 1}, ...}, "api_url": "http://0.0.0.0:8080"}

Logs (REPORT lines on ``lambda.NAME``, the instances' own output) go to stderr. SIGTERM or
SIGINT stops everything within a second (instances: SIGTERM, SIGKILL after 0.3 s); exit 0.
Exit 2: a usage error, or an address that cannot be bound.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deploy.local.cli_args import int_range, port_number, positive_float, positive_int

log = logging.getLogger("deploy.local.lambda_service")


def host_port(raw: str) -> tuple[str, int]:
    """``HOST:PORT`` -> ``(host, port)``; argparse type."""
    host, sep, port = raw.rpartition(":")
    if not sep or not host:
        msg = f"expected HOST:PORT, got {raw!r}"
        raise argparse.ArgumentTypeError(msg)
    return host, port_number(port)


def name_value(value_type: Callable[[str], Any]) -> Callable[[str], tuple[str, Any]]:
    """An argparse type for ``NAME=VALUE`` with ``value_type`` applied to VALUE."""

    def parse(raw: str) -> tuple[str, Any]:
        name, sep, value = raw.partition("=")
        if not sep or not name or not value:
            msg = f"expected NAME=VALUE, got {raw!r}"
            raise argparse.ArgumentTypeError(msg)
        return name, value_type(value)

    parse.__name__ = "NAME=VALUE"
    return parse


def api_target(raw: str) -> tuple[tuple[str, int], str]:
    """``HOST:PORT=NAME`` -> ``((host, port), name)``; argparse type."""
    address, sep, name = raw.rpartition("=")
    if not sep or not name:
        msg = f"expected HOST:PORT=NAME, got {raw!r}"
        raise argparse.ArgumentTypeError(msg)
    return host_port(address), name


def build_parser() -> argparse.ArgumentParser:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m deploy.local.lambda_service",
        description="Serve Lambda functions through the Runtime API, with an SQS event source "
        "mapping and an API Gateway front.",
        epilog="NAME=... flags may be repeated, one per function.",
    )
    add = parser.add_argument
    add(
        "--function",
        action="append",
        default=[],
        type=name_value(str),
        metavar="NAME=HANDLER",
        help="a function run as processes: python -m awslambdaric HANDLER",
    )
    add(
        "--external",
        action="append",
        default=[],
        metavar="NAME",
        help="a function whose instances are started elsewhere (containers)",
    )
    add(
        "--runtime-api",
        action="append",
        default=[],
        type=name_value(host_port),
        metavar="NAME=HOST:PORT",
        help="where NAME's Runtime API listens for external instances (default 127.0.0.1:0)",
    )
    add(
        "--instances",
        action="append",
        default=[],
        type=name_value(positive_int),
        metavar="NAME=N",
        help="instances (concurrency) of NAME (default 1)",
    )
    add(
        "--timeout",
        action="append",
        default=[],
        type=name_value(positive_float),
        metavar="NAME=S",
        help="seconds per invocation of NAME (default 60)",
    )
    add(
        "--memory",
        action="append",
        default=[],
        type=name_value(int_range(128, 10240)),
        metavar="NAME=MB",
        help="memory size of NAME, 128-10240 (default 1024)",
    )
    add(
        "--sqs",
        action="append",
        default=[],
        type=name_value(str),
        metavar="NAME=QUEUE",
        help="poll QUEUE (URL or name) and invoke NAME with Lambda's SQS event",
    )
    add(
        "--batch-size",
        type=int_range(1, 10),
        default=10,
        help="SQS records per invocation, 1-10 (default: %(default)s)",
    )
    add(
        "--batch-window-s",
        type=int_range(0, 300),
        default=0,
        help="seconds to gather a batch, 0-300 (default: %(default)s)",
    )
    add(
        "--api",
        type=api_target,
        default=None,
        metavar="HOST:PORT=NAME",
        help="serve the API front on HOST:PORT, invoking NAME",
    )
    add("-q", "--quiet", action="store_true", help="warnings only")
    add("-v", "--verbose", action="store_true", help="debug logs")
    return parser


@dataclass
class Plan:
    """What the command line asks for, checked."""

    functions: dict[str, Any] = field(default_factory=dict)  # name -> FunctionConfig
    sqs: dict[str, str] = field(default_factory=dict)
    api: tuple[tuple[str, int], str] | None = None


def plan_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Plan:
    """Turn the flags into function configurations; usage errors exit 2."""
    from deploy.local.lambda_service.function import (
        DEFAULT_MEMORY_MB,
        DEFAULT_TIMEOUT_S,
        FunctionConfig,
    )

    handlers = dict(args.function)
    external = list(dict.fromkeys(args.external))
    both = sorted(set(handlers) & set(external))
    if both:
        parser.error(f"function(s) {', '.join(both)} given both --function and --external")
    names = [*handlers, *external]
    if not names:
        parser.error("no function: give --function NAME=HANDLER or --external NAME")
    for flag, pairs in (
        ("--runtime-api", args.runtime_api),
        ("--instances", args.instances),
        ("--timeout", args.timeout),
        ("--memory", args.memory),
        ("--sqs", args.sqs),
    ):
        unknown = sorted({name for name, _ in pairs} - set(names))
        if unknown:
            parser.error(f"{flag}: unknown function(s) {', '.join(unknown)}")
    if args.api is not None and args.api[1] not in names:
        parser.error(f"--api: unknown function {args.api[1]}")
    runtime_apis, instances = dict(args.runtime_api), dict(args.instances)
    timeouts, memory = dict(args.timeout), dict(args.memory)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    plan = Plan(sqs=dict(args.sqs), api=args.api)
    for name in names:
        is_external = name in external
        plan.functions[name] = FunctionConfig(
            name=name,
            handler=handlers.get(name, ""),
            instances=instances.get(name, 1),
            timeout_s=timeouts.get(name, DEFAULT_TIMEOUT_S),
            memory_mb=memory.get(name, DEFAULT_MEMORY_MB),
            external=is_external,
            runtime_api=runtime_apis.get(name, ("127.0.0.1", 0) if is_external else None),
            region=region,
        )
    return plan


class LambdaService:
    """Functions, SQS mappings and the API front of a :class:`Plan`, started and stopped
    together. ``start()`` binds every address first (``OSError`` if one is taken)."""

    def __init__(self, plan: Plan, *, batch_size: int = 10, batch_window_s: float = 0.0) -> None:
        from deploy.local.lambda_service.function import LambdaFunction

        self.plan = plan
        self.batch_size = batch_size
        self.batch_window_s = batch_window_s
        self.functions: dict[str, LambdaFunction] = {}
        self.front: Any = None
        self.mappings: list[Any] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        try:
            for name, config in plan.functions.items():
                self.functions[name] = LambdaFunction(config)
            if plan.api is not None:
                self.front = self._make_front(*plan.api)
        except BaseException:
            self.stop()
            raise

    def _make_front(self, address: tuple[str, int], name: str) -> Any:
        from deploy.local.http_front import ApiFront

        # as handlers.config reads it; the API's other settings are the function's business
        raw_origins = os.environ.get("CORS_ALLOW_ORIGINS", "").split(",")
        origins = tuple(o.strip() for o in raw_origins if o.strip()) or ("*",)
        host, port = address
        return ApiFront(
            None,
            invoke=self.functions[name].call,
            host=host,
            port=port,
            cors_allow_origins=origins,
            region=self.functions[name].config.region,
            on_request=lambda r: log.info(
                "%s %s -> %d (%.0f ms)", r.method, r.path, r.status, r.duration_s * 1000
            ),
        )

    def start(self) -> dict[str, Any]:
        """Start everything; returns the ready line's facts."""
        import boto3
        from botocore.config import Config

        from deploy.local.lambda_service.sqs_mapping import (
            SqsEventSourceMapping,
            resolve_queue_url,
            start_mapping_when_ready,
        )

        for function in self.functions.values():
            function.start()
        for name, queue in self.plan.sqs.items():
            function = self.functions[name]
            sqs = boto3.client(
                "sqs",
                config=Config(retries={"max_attempts": 3, "mode": "standard"}, read_timeout=30),
            )

            def make(function: Any = function, queue: str = queue, sqs: Any = sqs) -> Any:
                return SqsEventSourceMapping(
                    resolve_queue_url(sqs, queue),
                    function,
                    sqs=sqs,
                    batch_size=self.batch_size,
                    batch_window_s=self.batch_window_s,
                    on_batch=log_batch,
                )

            start_mapping_when_ready(make, self._stop, self._started_mapping)
        api_url = self.front.start() if self.front is not None else None
        return {
            "functions": {
                name: {
                    "runtime_api": function.runtime_api,
                    "external": function.config.external,
                    "instances": function.config.instances,
                }
                for name, function in self.functions.items()
            },
            "api_url": api_url,
        }

    def _started_mapping(self, mapping: Any) -> None:
        with self._lock:
            self.mappings.append(mapping)
        log.info("polling %s for %s", mapping.queue_url, mapping.function.name)

    def stop(self) -> None:
        """Stop the front, the mappings and the functions (within about a second)."""
        self._stop.set()
        with self._lock:
            mappings = list(self.mappings)
        for function in self.functions.values():
            function.queue.stop()  # fail what waits, release /next calls
            for instance in function.instances:
                instance.request_stop()
        stops: list[Callable[[], object]] = [
            functools.partial(mapping.stop, timeout_s=0.2) for mapping in mappings
        ]
        stops += [function.stop for function in self.functions.values()]
        if self.front is not None:
            stops.append(self.front.stop)  # up to its 0.5 s poll interval
        threads = [threading.Thread(target=stop, daemon=True) for stop in stops]
        for thread in threads:  # in parallel: the slowest sets the pace, not the sum
            thread.start()
        for thread in threads:
            thread.join(timeout=2)


def log_batch(outcome: Any) -> None:
    """One line per SQS batch."""
    log.info(
        "batch of %d: %d deleted, %d left for redelivery (%.0f ms)%s",
        len(outcome.records),
        len(outcome.deleted),
        len(outcome.failed),
        outcome.duration_s * 1000,
        f": {outcome.error}" if outcome.error else "",
    )


def main(argv: list[str] | None = None) -> int:
    """Run until SIGTERM/SIGINT; the exit code (0, or 2 for a usage or bind error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    plan = plan_from_args(args, parser)
    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    from handlers.config import ConfigError

    try:
        service = LambdaService(
            plan, batch_size=args.batch_size, batch_window_s=args.batch_window_s
        )
    except (OSError, ConfigError) as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 2
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        ready = service.start()
        sys.stdout.write(json.dumps(ready) + "\n")
        sys.stdout.flush()
        stopping.wait()  # a signal handler sets it (waits on a lock are interruptible)
        log.info("stopping")
        return 0
    finally:
        service.stop()
