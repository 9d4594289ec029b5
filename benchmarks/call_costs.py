"""Where the embedded pipeline's CPU goes, per call: a table of CPU ms per image by span.

``python benchmarks/call_costs.py [--images 40] [--workers 2] [--cprofile FILE]``

Runs the embedded pipeline (``deploy.local.runner.LocalPipeline``, in-process functions, as
``python -m deploy.local -q`` runs it) in this process and uploads ``--images`` generated
3 MP photo-like JPEGs through its API with the batch client in a subprocess (4 in flight,
as benchmarks/overhead.py does; its CPU is not counted), after two warm-up images. Spans,
each timed with the thread's own CPU clock (``time.thread_time``), inclusive and self
(minus the spans inside it):

- ``front METHOD /route``: a request to the API front (HTTP parsing, the API handler);
- ``sdk SERVICE.Operation``: a boto3 call, client side and emulator together; inside it
  ``moto SERVICE.Operation``: the emulator's handling (deploy/local/emulator_transport.py);
- ``resize handler``, ``api handler``, ``engine`` (``imgproc.process_set``).

The rest of the process's CPU (``time.process_time``) is ``outside any span`` (server
loops, the dispatcher's loop, garbage collection...). ``--cprofile FILE``: also a cProfile
of every thread started after the pipeline, by thread CPU time, merged (``pstats``); its
own cost inflates the figures, so read it for shares only. Not a test.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import json
import os
import pstats
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.pipeline_tools import photo_folders  # noqa: E402

ID = re.compile(r"/[0-9a-f]{32}|/[0-9a-f-]{36}")

_local = threading.local()
_lock = threading.Lock()
_totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])  # calls, incl, self
_top_level = [0.0]  # CPU seconds inside an outermost span


@contextmanager
def span(name: str) -> Iterator[None]:
    """Time the block on this thread's CPU clock under ``name``."""
    stack: list[float] = _local.__dict__.setdefault("stack", [])
    stack.append(0.0)
    started = time.thread_time()
    try:
        yield
    finally:
        inclusive = time.thread_time() - started
        children = stack.pop()
        with _lock:
            if stack:
                stack[-1] += inclusive
            else:
                _top_level[0] += inclusive
            totals = _totals[name]
            totals[0] += 1
            totals[1] += inclusive
            totals[2] += inclusive - children


def _wrap(function: Callable[..., Any], name: Callable[..., str] | str) -> Callable[..., Any]:
    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        with span(name(*args, **kwargs) if callable(name) else name):
            return function(*args, **kwargs)

    return timed


def instrument() -> None:
    """Patch the spans in (before the pipeline starts)."""
    import botocore.client
    from botocore.handlers import BUILTIN_HANDLERS

    import handlers.pipeline
    from deploy.local import emulator_transport, http_front
    from handlers import api, resize

    client = botocore.client.BaseClient
    client._make_api_call = _wrap(  # type: ignore[method-assign]
        client._make_api_call,
        lambda self, operation, *_: f"sdk {self.meta.service_model.service_name}.{operation}",
    )
    for n, entry in enumerate(BUILTIN_HANDLERS):
        if entry[1] is emulator_transport._send_in_process:
            BUILTIN_HANDLERS[n] = (
                entry[0],
                _wrap(entry[1], lambda *a, **k: "moto " + ".".join(k["event_name"].split(".")[1:])),
                *entry[2:],
            )
    request_handler = http_front._RequestHandler
    timed_handle = _wrap(
        request_handler._handle,
        lambda self: f"front {self.command} {ID.sub('/{id}', self.path.split('?')[0])}",
    )
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"):
        setattr(request_handler, f"do_{method}", timed_handle)
    resize.handler = _wrap(resize.handler, "resize handler")
    api.handler = _wrap(api.handler, "api handler")
    handlers.pipeline.process_set = _wrap(handlers.pipeline.process_set, "engine")


def profile_threads(profiles: list[cProfile.Profile]) -> None:
    """Every thread started from now on runs under its own cProfile (thread CPU time)."""
    run = threading.Thread.run

    def profiled_run(self: threading.Thread) -> None:
        profile = cProfile.Profile(time.thread_time)
        profile.enable()
        try:
            run(self)
        finally:
            profile.disable()
            with _lock:
                profiles.append(profile)

    threading.Thread.run = profiled_run  # type: ignore[method-assign]


def upload(api_url: str, folder: Path, concurrency: int) -> None:
    """The batch client over ``folder``, in a subprocess (its CPU is not this process's)."""
    code = (
        "import sys; from pathlib import Path;"
        "from deploy.local.batch import plan_batch, run_batch;"
        f"o = run_batch({api_url!r}, plan_batch([Path({str(folder)!r})], None), "
        f"timeout_s=300, concurrency={concurrency});"
        "sys.exit(0 if all(x.status == 'processed' for x in o) else 1)"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cprofile", type=Path, default=None, metavar="FILE")
    args = parser.parse_args()
    from rich.console import Console

    from deploy.local.runner import (
        LocalPipeline,
        build_parser,
        configure_environment,
        configure_logging,
    )

    configure_environment(os.environ, verbose=False)  # before the handlers are imported
    instrument()
    profiles: list[cProfile.Profile] = []
    if args.cprofile:
        profile_threads(profiles)
    flags = ["--api-port", "0", "--emulator-port", "0", "-q", "--workers", str(args.workers)]
    configure_logging(Console(stderr=True), quiet=True)
    pipeline = LocalPipeline(build_parser().parse_args(flags))
    stdout, sys.stdout = sys.stdout, sys.stderr
    with tempfile.TemporaryDirectory() as tmp:
        folder, warmup, _ = photo_folders(Path(tmp), args.images)
        try:
            ready = pipeline.start()
            upload(ready.api_url, warmup, 2)
            time.sleep(1)
            with _lock:
                _totals.clear()
                _top_level[0] = 0.0
            started, cpu_before = time.monotonic(), time.process_time()
            upload(ready.api_url, folder, 4)
            cpu_s, elapsed_s = time.process_time() - cpu_before, time.monotonic() - started
        finally:
            pipeline.stop()
    sys.stdout = stdout
    per_image = 1000 / args.images
    with _lock:
        rows = sorted(_totals.items(), key=lambda kv: -kv[1][2])
        outside = cpu_s - _top_level[0]
    print(
        f"{args.images} images, {args.images / elapsed_s:.1f} images/s, "
        f"process CPU {cpu_s * per_image:.1f} ms/image"
    )
    print(f"{'span':<40} {'calls/img':>9} {'self ms/img':>11} {'incl ms/img':>11} {'ms/call':>8}")
    for name, (calls, inclusive, own) in rows:
        print(
            f"{name:<40} {calls / args.images:>9.2f} {own * per_image:>11.2f} "
            f"{inclusive * per_image:>11.2f} {inclusive * 1000 / calls:>8.2f}"
        )
    print(f"{'outside any span':<40} {'':>9} {outside * per_image:>11.2f}")
    if args.cprofile:
        with _lock:
            stats = pstats.Stats(profiles[0]) if profiles else None
            for profile in profiles[1:]:
                assert stats is not None
                stats.add(profile)
        if stats is not None:
            stats.dump_stats(str(args.cprofile))
            print(json.dumps({"cprofile": str(args.cprofile), "threads": len(profiles)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
