"""The embedded local pipeline: the whole system in one process, no Docker, no AWS account.

``python -m deploy.local [IMAGE_OR_FOLDER...] [--api-port 8080] [--emulator-port 4566]
[--max-dim 500]`` (DESIGN.md Contract 4):

1. starts the AWS emulator (moto's server: S3, DynamoDB, SQS) on 127.0.0.1;
2. creates the buckets, the metadata table, the queue (+ dead-letter queue) and the uploads
   bucket's ``ObjectCreated`` -> SQS notification (deploy/local/resources.py);
3. builds both functions' settings (``handlers.config``: names and size from the command
   line, other tunables from the caller's environment) before anything starts, and wires the
   handlers to the emulator through their composition root (``handlers.bootstrap.install``:
   explicit endpoint and dummy credentials; nothing of theirs goes into the environment);
4. runs the SQS dispatcher (deploy/local/dispatcher.py) calling ``handlers.resize.handler``, and the
   HTTP front (deploy/local/http_front.py) calling ``handlers.api.handler``, with the upload page at
   ``/``; the two functions' invocations run one at a time, as on one Lambda instance (their
   Powertools log keys are process-wide; see ``deploy.local.lambda_context.one_at_a_time``).
   With ``--functions process`` the handlers run instead as ``python -m awslambdaric HANDLER``
   processes (``--workers`` instances of each function) behind the Lambda Runtime API
   (deploy/local/lambda_service/), as the image runs on Lambda: no lock between invocations,
   REPORT lines in the log. In-process stays the default, from measurements on 40 generated
   3 MP JPEGs (benchmarks/overhead.py, 2 shared cores, --workers 2): 47 ms of CPU per image
   for the whole tree and 20.7 images/s, against 78 ms and 11.6 images/s for the process
   tree (its functions reach the emulator over HTTP; in-process calls skip the socket,
   deploy/local/emulator_transport.py), and no extra interpreters (4 x ~60 MB);
5. prints where everything is on stderr and, once ready, one JSON line on stdout::

       {"api_url": ..., "endpoint_url": ..., "uploads_bucket": ..., "processed_bucket": ...,
        "table": ..., "region": ...}

With no paths it serves until Ctrl-C or SIGTERM. With paths (files, or folders walked for
images) it uploads each through the API, waits for each, prints a summary table on stdout and
exits 0 when every image was processed, 1 otherwise (2: usage error, such as a path that does
not exist, or failed start). ``--demo`` does the same with the generated demo set
(deploy/local/demo.py, written to ``demo-images/``): what ``make run`` runs on a fresh clone.
Each image's journey is logged on stderr, one line per step.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import boto3
from botocore.config import Config
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from deploy.local.batch import Source, plan_batch, run_batch, summary_table
from deploy.local.cli_args import int_range, port_number, positive_float, positive_int
from deploy.local.demo import DEFAULT_DIR as DEMO_DIR
from deploy.local.demo import write_demo_set
from deploy.local.emulator import Emulator, EmulatorError, EmulatorPortInUse
from handlers.config import ApiSettings, ConfigError, ResizeSettings
from imgproc import DEFAULT_MAX_DIM_PX
from imgproc.cli_plan import UsageError

log = logging.getLogger("deploy.local")
journey_log = logging.getLogger("journey")


@dataclass(frozen=True, slots=True)
class Defaults:
    """What ``python -m deploy.local`` uses for a flag that is not given: the address and
    ports to listen on, the renditions' longest side in pixels, resource names, region."""

    host: str = "127.0.0.1"
    api_port: int = 8080
    emulator_port: int = 4566
    max_dim: int = DEFAULT_MAX_DIM_PX
    uploads_bucket: str = "image-uploads"
    processed_bucket: str = "image-processed"
    table: str = "image-metadata"
    queue: str = "image-uploads-events"
    region: str = "us-east-1"  # when neither --region nor AWS_REGION/AWS_DEFAULT_REGION is set


DEFAULTS = Defaults()
IDLE_POLL_S = 2  # the dispatcher's long poll; also bounds how long a stop waits for it
CLI_CREDENTIALS = "AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x"  # the emulator takes any
MAX_VISIBILITY_TIMEOUT_S = 43_200  # SQS: 12 hours
MAX_RECEIVE_COUNT = 1000  # SQS redrive policy maximum


class StartError(RuntimeError):
    """The local pipeline cannot start; the message is for a person (exit code 2)."""


def port_in_use_message(host: str, port: int, flag: str) -> str:
    """What to tell a person whose ``--api-port``/``--emulator-port`` is taken."""
    return (
        f"port {port} ({flag}) is already in use on {host}; stop what uses it or pass "
        f"{flag} 0 for a free port"
    )


def check_port_free(host: str, port: int, flag: str) -> None:
    """Bind-test ``host:port`` (as the servers will bind it, ``SO_REUSEADDR``) and release it.

    Port 0 is always free. Raises:
        StartError: the port is in use (message from :func:`port_in_use_message`) or cannot
            be bound for another reason (bad address, privileged port).
    """
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise StartError(port_in_use_message(host, port, flag)) from e
            msg = f"cannot listen on {host}:{port} ({flag}): {e.strerror or e}"
            raise StartError(msg) from e


@dataclass(frozen=True, slots=True)
class Ready:
    """The facts of the ready line (Contract 4), in its key order."""

    api_url: str
    endpoint_url: str
    uploads_bucket: str
    processed_bucket: str
    table: str
    region: str

    def to_json(self) -> str:
        """The one-line JSON printed on stdout once the pipeline is ready."""
        return json.dumps(asdict(self))


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m deploy.local``."""
    parser = argparse.ArgumentParser(
        prog="python -m deploy.local",
        description="Run the whole image pipeline on this machine (AWS emulator, buckets, "
        "table, queue, resize dispatcher, API and upload page). With paths: process them "
        "and exit 0 if all were processed, else 1.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="IMAGE_OR_FOLDER",
        help="images or folders to process, then exit (none: serve)",
    )
    parser.add_argument(
        "--host", default=DEFAULTS.host, help="address to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--api-port",
        type=port_number,
        default=DEFAULTS.api_port,
        help="API and upload page port, 0 = free (default: %(default)s)",
    )
    parser.add_argument(
        "--emulator-port",
        type=port_number,
        default=DEFAULTS.emulator_port,
        help="AWS emulator port, 0 = free (default: %(default)s)",
    )
    parser.add_argument(
        "--max-dim",
        type=positive_int,
        default=DEFAULTS.max_dim,
        help="longest side of renditions, pixels (default: %(default)s)",
    )
    parser.add_argument(
        "--uploads-bucket", default=DEFAULTS.uploads_bucket, help="default: %(default)s"
    )
    parser.add_argument(
        "--processed-bucket", default=DEFAULTS.processed_bucket, help="default: %(default)s"
    )
    parser.add_argument("--table", default=DEFAULTS.table, help="default: %(default)s")
    parser.add_argument(
        "--queue",
        default=DEFAULTS.queue,
        help="SQS queue name; its DLQ is NAME-dlq (default: %(default)s)",
    )
    parser.add_argument(
        "--region",
        default=None,
        help="AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1)",
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=max(2, os.cpu_count() or 1),
        help="SQS pollers; in-process the handler invocations themselves run one at a "
        "time (lambda_context.one_at_a_time); with --functions process, the instances of "
        "each function (default: %(default)s)",
    )
    parser.add_argument(
        "--functions",
        choices=("inprocess", "process"),
        default="inprocess",
        help="run the handlers in this process, or as awslambdaric processes (--workers "
        "of each function) through the Lambda Runtime API (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-size",
        type=int_range(1, 10),
        default=10,
        help="SQS messages per resize invocation, 1-10 (default: %(default)s)",
    )
    parser.add_argument(
        "--visibility-timeout",
        type=int_range(0, MAX_VISIBILITY_TIMEOUT_S),
        default=30,
        help="seconds before a failed message is retried (default: %(default)s)",
    )
    parser.add_argument(
        "--max-receives",
        type=int_range(1, MAX_RECEIVE_COUNT),
        default=3,
        help="receives before a message goes to the DLQ (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=120.0,
        help="batch form: seconds to wait for each image (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        default="out",
        metavar="DIR",
        help="batch form: where renditions and results.jsonl go "
        "(default: %(default)s; '' to keep nothing)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help=f"process the generated demo set (written to {DEMO_DIR}/), then exit",
    )
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=4,
        help="batch form: uploads in flight (default: %(default)s)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no journey lines, only warnings"
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also the handlers' own logs (Powertools, INFO)",
    )
    return parser


def configure_environment(environ: Any, *, verbose: bool) -> None:
    """Process-wide defaults, before the handler modules are imported: Powertools' logging and
    metrics, and dummy credentials for the runner's own SDK clients (the emulator takes any).

    The handlers' settings are not written here: see :func:`handler_settings`.
    """
    environ.pop("AWS_PROFILE", None)
    environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    environ.setdefault("POWERTOOLS_SERVICE_NAME", "image-pipeline")
    environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    if not verbose:
        environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")


def handler_settings(
    environ: Mapping[str, str], *, region: str, args: argparse.Namespace
) -> tuple[ApiSettings, ResizeSettings]:
    """Both functions' settings: region, names and ``--max-dim`` from the command line; other
    tunables (``API_MAX_BODY_BYTES``, ``CORS_ALLOW_ORIGINS``, ...) from ``environ`` as they are.

    Raises:
        ConfigError: a tunable in ``environ`` is malformed.
    """
    given = function_environment(environ, region=region, args=args)
    return ApiSettings.from_env(given), ResizeSettings.from_env(given)


def function_environment(
    environ: Mapping[str, str], *, region: str, args: argparse.Namespace
) -> dict[str, str]:
    """The functions' environment as the template would set it: ``environ`` with the region,
    bucket and table names and ``--max-dim`` from the command line."""
    return {
        **environ,
        "AWS_REGION": region,
        "UPLOADS_BUCKET": args.uploads_bucket,
        "PROCESSED_BUCKET": args.processed_bucket,
        "METADATA_TABLE": args.table,
        "MAX_DIMENSION": str(args.max_dim),
    }


def route_stdout_logs_to_stderr() -> None:
    """Move every logging handler writing to stdout (Powertools' default) to stderr.

    stdout carries the ready line (and the batch summary) for scripts; logs go to stderr.
    """
    loggers = [
        logging.getLogger(),
        *(
            logger
            for logger in logging.Logger.manager.loggerDict.values()
            if isinstance(logger, logging.Logger)
        ),
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
                handler.setStream(sys.stderr)


class ConsoleHandler(logging.Handler):
    """Logging through a rich console (so lines print above a live progress bar)."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
            line = f"{stamp}.{int(record.msecs):03d} {record.name:<8} {record.getMessage()}"
            if record.exc_info:
                line += "\n" + logging.Formatter().formatException(record.exc_info)
            self.console.print(line, markup=False, highlight=False, soft_wrap=True)
        except Exception:
            self.handleError(record)


def configure_logging(console: Console, *, quiet: bool) -> None:
    """Our lines on the stderr console; chatty libraries quiet."""
    root = logging.getLogger()
    root.handlers[:] = [ConsoleHandler(console)]
    root.setLevel(logging.WARNING if quiet else logging.INFO)
    for name in ("botocore", "boto3", "urllib3", "werkzeug", "moto"):
        logging.getLogger(name).setLevel(logging.WARNING)


class LocalPipeline:
    """Emulator + resources + dispatcher + HTTP front, started and stopped together.

    ``start()`` returns the :class:`Ready` facts; ``stop()`` undoes it in reverse order.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        # in_process_sdk: the handlers, dispatcher and journey here reach it without HTTP
        self.emulator = Emulator(host=args.host, port=args.emulator_port, in_process_sdk=True)
        self.dispatcher: Any = None
        self.front: Any = None
        self.resources: Any = None
        self.api_settings: ApiSettings | None = None
        self.functions: dict[str, Any] = {}  # --functions process: name -> LambdaFunction

    def start(self) -> Ready:
        """Start everything. The handlers' settings are checked, and both ports taken, before
        anything starts or any resource is created.

        Raises:
            StartError: the handlers' configuration is bad (``handlers.config.ConfigError``),
                or a port is in use or cannot be bound (the message names its flag).
            EmulatorError: the emulator did not come up.
        """
        args = self.args
        region = (
            args.region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or DEFAULTS.region
        )
        configure_environment(os.environ, verbose=args.verbose)
        try:  # as each function would at its first invocation; a start error instead
            self.api_settings, resize_settings = handler_settings(
                os.environ, region=region, args=args
            )
        except ConfigError as e:
            raise StartError(f"bad configuration: {e}") from e
        if args.api_port and args.api_port == args.emulator_port:
            msg = (
                f"--api-port and --emulator-port are both {args.api_port}; give them "
                "different ports (0 picks a free one)"
            )
            raise StartError(msg)
        check_port_free(args.host, args.api_port, "--api-port")
        check_port_free(args.host, args.emulator_port, "--emulator-port")
        try:
            endpoint_url = self.emulator.start()
        except EmulatorPortInUse as e:  # taken between the check and the bind
            raise StartError(port_in_use_message(e.host, e.port, "--emulator-port")) from e

        # Imported only now: Powertools reads its environment when the handlers import it.
        from deploy.local.dispatcher import SqsDispatcher
        from deploy.local.http_front import ApiFront
        from deploy.local.journey import Journey
        from deploy.local.lambda_context import one_at_a_time
        from deploy.local.resources import ensure_resources
        from handlers import api, bootstrap, resize

        invocation_lock = threading.Lock()  # shared by both functions: see one_at_a_time
        api_handler: Any = one_at_a_time(api.handler, invocation_lock)
        resize_handler = one_at_a_time(resize.handler, invocation_lock)
        emulator = bootstrap.AwsAccess(
            endpoint_url=endpoint_url, access_key_id="testing", secret_access_key="testing"
        )
        bootstrap.install("api", bootstrap.build(self.api_settings, emulator))
        bootstrap.install("resize", bootstrap.build(resize_settings, emulator))
        api_invoke = None
        if args.functions == "process":  # awslambdaric processes through the Runtime API
            from deploy.local.lambda_service.embedded import as_handler, start_functions

            # A process reads its settings from its environment, as on Lambda.
            environment = {
                **function_environment(os.environ, region=region, args=args),
                "AWS_ENDPOINT_URL": endpoint_url,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
            }
            counts = {"resize": args.workers, "api": args.workers}
            self.functions = start_functions(environment, region=region, instances=counts)
            api_handler, api_invoke = None, self.functions["api"].call
            resize_handler = as_handler(self.functions["resize"])
        route_stdout_logs_to_stderr()
        journey = Journey(
            table=args.table,
            region=region,
            endpoint_url=endpoint_url,
            visibility_timeout_s=args.visibility_timeout,
            uploads_prefix=resize_settings.uploads_prefix,
        )
        try:  # binds now, serves once the resources exist
            self.front = ApiFront(
                api_handler,
                invoke=api_invoke,
                host=args.host,
                port=args.api_port,
                cors_allow_origins=self.api_settings.cors_allow_origins,
                region=region,
                on_request_started=journey.on_request_started,
                on_request=journey.on_request,
            )
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise StartError(port_in_use_message(args.host, args.api_port, "--api-port")) from e
            raise
        self.resources = ensure_resources(
            uploads_bucket=args.uploads_bucket,
            processed_bucket=args.processed_bucket,
            table=args.table,
            queue=args.queue,
            region=region,
            endpoint_url=endpoint_url,
            max_receive_count=args.max_receives,
            visibility_timeout_s=args.visibility_timeout,
        )
        self.dispatcher = SqsDispatcher(
            self.resources.queue_url,
            journey.wrap_resize(resize_handler),
            sqs=boto3.client(
                "sqs",
                region_name=region,
                endpoint_url=endpoint_url,
                config=Config(retries={"mode": "standard"}, read_timeout=IDLE_POLL_S + 10),
            ),
            batch_size=args.batch_size,
            wait_time_s=IDLE_POLL_S,
            on_batch=journey.on_batch,
        )
        self.dispatcher.start(args.workers)
        api_url = self.front.start()
        return Ready(
            api_url=api_url,
            endpoint_url=endpoint_url,
            uploads_bucket=args.uploads_bucket,
            processed_bucket=args.processed_bucket,
            table=args.table,
            region=region,
        )

    def stop(self) -> None:
        """Stop the front, then the dispatcher (finishing its batch), then the emulator."""
        if self.front is not None:
            self.front.stop()
        if self.dispatcher is not None:
            self.dispatcher.stop()
        for function in self.functions.values():
            function.stop()
        self.emulator.stop()


def describe(ready: Ready, console: Console, args: argparse.Namespace, queue_url: str) -> None:
    """Tell a person where everything is (stderr)."""
    console.print("local image pipeline ready", style="bold", highlight=False)
    console.print(
        f"  upload page   {ready.api_url}/\n"
        f"  API           {ready.api_url}  (POST /images, POST /uploads, GET /images[/ID])\n"
        f"  AWS emulator  {ready.endpoint_url}  (S3, DynamoDB, SQS; region {ready.region})\n"
        f"  buckets       s3://{ready.uploads_bucket} -> s3://{ready.processed_bucket}\n"
        f"  table         {ready.table}\n"
        f"  queue         {queue_url} (DLQ {args.queue}-dlq after {args.max_receives} receives)\n"
        f"  upload:  curl -F file=@photo.jpg {ready.api_url}/images\n"
        f"  status:  curl {ready.api_url}/images/IMAGE_ID\n"
        f"  AWS CLI (any credentials work against the emulator):\n"
        f"    {CLI_CREDENTIALS} aws --endpoint-url {ready.endpoint_url} "
        f"s3 ls s3://{ready.processed_bucket}\n"
        f"    {CLI_CREDENTIALS} aws --endpoint-url {ready.endpoint_url} --region {ready.region} "
        f"dynamodb scan --table-name {ready.table}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def run_batch_form(
    ready: Ready,
    args: argparse.Namespace,
    console: Console,
    stop: threading.Event,
    *,
    sources: list[Source],
    api_max_body_bytes: int,
    stdout: TextIO | None = None,
) -> int:
    """Upload ``sources`` through the API, show progress, print the table; exit code.

    ``api_max_body_bytes``: the API's ``POST /images`` limit (bigger files go by
    ``POST /uploads``), from its settings.
    """
    out_dir = Path(args.out) if args.out else None
    if not sources:
        console.print("no images found in the given paths", style="red")
        return 1
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    started = time.monotonic()
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("processing", total=len(sources))
        outcomes = run_batch(
            ready.api_url,
            sources,
            timeout_s=args.timeout,
            concurrency=args.concurrency,
            api_max_body_bytes=api_max_body_bytes,
            out_dir=out_dir,
            on_done=lambda _o: progress.advance(task),
            stop=stop,
        )
    elapsed_s = time.monotonic() - started
    table_file = stdout or sys.stdout
    out = Console(file=table_file)
    if not out.is_terminal:  # a pipe or file: no terminal width to fit, keep rows whole
        out = Console(file=table_file, width=200)
    out.print(summary_table(outcomes))
    processed = sum(o.status == "processed" for o in outcomes)
    console.print(
        f"{processed} of {len(outcomes)} processed in {elapsed_s:.1f} s "
        f"({len(outcomes) / elapsed_s:.2f} images/s)",
        highlight=False,
    )
    if out_dir is not None:
        console.print(
            f"renditions saved under {out_dir}/, every item in {out_dir / 'results.jsonl'}",
            highlight=False,
            soft_wrap=True,
        )
        console.print(
            "note: the download_url values in results.jsonl stop working when this "
            "run exits (the emulator keeps everything in memory); the renditions "
            f"are saved under {out_dir}/",
            highlight=False,
            soft_wrap=True,
        )
    return 0 if processed == len(outcomes) else 1


def main(argv: list[str] | None = None) -> int:
    """Run the local pipeline; the exit code (0 ok, 1 not all processed, 2 usage error or
    failed start)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.demo and args.paths:
        parser.error("give IMAGE_OR_FOLDER paths or --demo, not both")
    missing = [raw for raw in args.paths if not os.path.exists(raw)]
    if missing:  # a usage error before anything starts, not a "missing" row at the end
        parser.error(f"no such file or folder: {', '.join(missing)}")
    if args.demo:
        print(
            f"demo set: generated images in {DEMO_DIR}/ (see deploy/local/demo.py)", file=sys.stderr
        )
        try:
            args.paths = [str(path) for path in write_demo_set(DEMO_DIR)]
        except OSError as e:
            print(f"cannot write the demo set to {DEMO_DIR}/: {e}", file=sys.stderr)
            return 2
    sources: list[Source] = []
    if args.paths:  # checked before anything starts: a bad --out is a usage error
        try:
            sources = plan_batch(args.paths, Path(args.out) if args.out else None)
        except UsageError as e:
            parser.error(str(e))
    console = Console(stderr=True)
    configure_logging(console, quiet=args.quiet)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():  # a second Ctrl-C: give up on a clean stop
            raise KeyboardInterrupt
        log.info("%s: shutting down", signal.Signals(signum).name)
        stop.set()

    pipeline = LocalPipeline(args)
    # stdout carries the ready line and the summary only: whatever else prints (Powertools'
    # metrics print EMF lines on their own, even when disabled) goes to stderr, so it neither
    # mixes with them nor blocks the pipeline when a script reads only the ready line.
    stdout, sys.stdout = sys.stdout, sys.stderr
    try:
        try:
            ready = pipeline.start()
        except (StartError, EmulatorError, OSError) as e:
            console.print(
                f"cannot start the local pipeline: {e}",
                style="red",
                highlight=False,
                soft_wrap=True,
            )
            return 2
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, on_signal)
        stdout.write(ready.to_json() + "\n")
        stdout.flush()
        describe(ready, console, args, pipeline.resources.queue_url)
        if args.paths:
            assert pipeline.api_settings is not None
            return run_batch_form(
                ready,
                args,
                console,
                stop,
                sources=sources,
                api_max_body_bytes=pipeline.api_settings.api_max_body_bytes,
                stdout=stdout,
            )
        while not stop.wait(0.5):
            pass
        return 0
    finally:
        pipeline.stop()
        sys.stdout = stdout
        log.info("stopped")


if __name__ == "__main__":
    sys.exit(main())
