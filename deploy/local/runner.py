"""The embedded local pipeline: the whole system in one process, no Docker, no AWS account.

``python -m deploy.local [IMAGE_OR_FOLDER...] [--api-port 8080] [--emulator-port 4566]
[--max-dim 500] [--renditions SPEC|PRESET]`` (DESIGN.md Contract 4):

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
        "table": ..., "region": ..., "dlq_url": ...}

   (``dlq_url``, the resize queue's dead-letter queue, extends Contract 4's six keys; list
   and redrive its messages with ``python -m deploy.local.dlq``).

   With ``--auth-mode jwt`` or ``iam`` (or ``AUTH_MODE``) two more keys follow:
   ``"auth_mode"`` and ``"tokens"``: ``{"alice": ..., "bob": ..., "carol": ...}``, for jwt ID
   tokens of a dev issuer made at start, for iam ``Authorization`` values naming three local
   access keys; the HTTP front plays the authorizer (deploy/local/authorizer.py);

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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import boto3
from botocore.config import Config
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from deploy.local.apigw_events import UploadLimits
from deploy.local.authorizer import DevIssuer, authorizer_for, dev_sigv4_header
from deploy.local.batch import (
    RESULTS_FILE,
    ImageOutcome,
    Source,
    forget_previous_run,
    plan_batch,
    run_batch,
    summary_table,
)
from deploy.local.cli_args import int_range, port_number, positive_float, positive_int
from deploy.local.demo import DEFAULT_DIR as DEMO_DIR
from deploy.local.demo import write_demo_set
from deploy.local.emulator import Emulator, EmulatorError, EmulatorPortInUse, StorageBound
from deploy.local.http_front import add_limit_flags
from handlers.config import AUTH_MODES, ApiSettings, ConfigError, ResizeSettings
from imgproc import DEFAULT_MAX_DIM_PX
from imgproc.cli_plan import UsageError
from imgproc.cli_report import printable

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
DEFAULT_MAX_STORED_MB = 2048  # the memory bound: what S3 may hold before uploads are refused


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
    dlq_url: str = ""
    """The resize queue's dead-letter queue (added after the first six keys: additive)."""
    auth_mode: str = "none"
    tokens: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        """The one-line JSON printed on stdout once the pipeline is ready (Contract 4; with
        ``auth_mode`` and ``tokens`` only when the API wants credentials)."""
        facts = asdict(self)
        if self.auth_mode == "none":
            facts.pop("auth_mode")
            facts.pop("tokens")
        return json.dumps(facts)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m deploy.local``."""
    parser = argparse.ArgumentParser(
        prog="python -m deploy.local",
        description="Run the whole image pipeline on this machine (AWS emulator, buckets, "
        "table, queue, resize dispatcher, API and upload page). Everything lives in this "
        "process's memory and is lost when it stops. With paths: process them and exit 0 if "
        "all were processed, else 1; each image ends processed, rejected (the engine's "
        "reason), failed (the pipeline's fault), error (connection, timeout, 5xx, io_error), "
        "pending (not final at --timeout) or cancelled (Ctrl-C came first).",
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
        "--renditions",
        default=None,
        metavar="SPEC|PRESET",
        help="rendition set: a preset (default, web, web-large) or a spec such as "
        "'thumb:200:webp, 1600:avif' (default: $RENDITIONS, else default: one rendition)",
    )
    parser.add_argument(
        "--uploads-bucket", default=DEFAULTS.uploads_bucket, help="default: %(default)s"
    )
    parser.add_argument(
        "--processed-bucket", default=DEFAULTS.processed_bucket, help="default: %(default)s"
    )
    parser.add_argument("--table", default=DEFAULTS.table, help="default: %(default)s")
    parser.add_argument(
        "--auth-mode",
        choices=AUTH_MODES,
        default=None,
        help="who may call the API: none (anyone; default, or $AUTH_MODE), jwt (tokens of a "
        "dev issuer, printed at start) or iam (SigV4 Authorization header)",
    )
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
        help="batch form: where renditions and results.jsonl go; a run first removes the "
        "renditions the previous run listed in DIR/results.jsonl, nothing else; not inside "
        "an input folder (default: %(default)s; '' to keep nothing)",
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
        "--max-stored-mb",
        type=positive_int,
        default=DEFAULT_MAX_STORED_MB,
        metavar="MB",
        help="everything lives in this process's memory: refuse new uploads (507) once S3 "
        "holds this many MB (default: %(default)s)",
    )
    add_limit_flags(parser)
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
    bucket and table names, ``--max-dim`` and ``--renditions`` (when given) from the command
    line, ``AUTH_MODE`` from ``--auth-mode``, the quota table ``{table}-quota`` when
    callers are authenticated (with ``AUTH_MODE=none`` every local upload is ``anonymous``:
    a daily cap would stop a big batch, so none unless ``QUOTA_TABLE`` is set);
    ``CORS_ALLOW_ORIGINS``, unless set, the front's own origins when its port is fixed (port
    0: set once bound, in-process only; the upload page is same-origin anyway)."""
    renditions = getattr(args, "renditions", None)
    env = {
        **environ,
        "AWS_REGION": region,
        "UPLOADS_BUCKET": args.uploads_bucket,
        "PROCESSED_BUCKET": args.processed_bucket,
        "METADATA_TABLE": args.table,
        "MAX_DIMENSION": str(args.max_dim),
        "MAX_RECEIVE_COUNT": str(args.max_receives),  # the queue's redrive policy
        **({"RENDITIONS": renditions} if renditions else {}),
    }
    if args.auth_mode:
        env["AUTH_MODE"] = args.auth_mode
    if env.get("AUTH_MODE", "none").strip().lower() != "none":
        env.setdefault("QUOTA_TABLE", f"{args.table}-quota")
    if not environ.get("CORS_ALLOW_ORIGINS") and args.api_port:
        env["CORS_ALLOW_ORIGINS"] = ",".join(own_origins(args.host, args.api_port))
    return env


def own_origins(host: str, port: int) -> tuple[str, ...]:
    """The origins a browser shows for the front on ``host:port`` (loopback: both names)."""
    if host in ("127.0.0.1", "0.0.0.0", "localhost", ""):
        return (f"http://127.0.0.1:{port}", f"http://localhost:{port}")
    return (f"http://{host}:{port}",)


def dev_credentials(mode: str, issuer: DevIssuer) -> dict[str, str]:
    """Three local callers' ``Authorization`` values for ``mode`` (none: no credentials)."""
    if mode == "jwt":
        return {name: issuer.mint(name) for name in DEV_USERS}
    if mode == "iam":
        return {name: dev_sigv4_header(key) for name, key in IAM_USERS.items()}
    return {}


DEV_USERS = ("alice", "bob", "carol")
IAM_USERS = {name: f"AKIALOCAL{name.upper():0<11}" for name in DEV_USERS}


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
    """Logging through a rich console (so lines print above a live progress bar), one line
    per record: the message through :func:`imgproc.cli_report.printable` (a key with a
    newline cannot forge a line), a traceback below it as it is."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
            message = printable(record.getMessage())
            line = f"{stamp}.{int(record.msecs):03d} {record.name:<8} {message}"
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
        self.storage_bound = StorageBound(
            args.max_stored_mb * 1_000_000,
            [args.uploads_bucket],
            setting=f"--max-stored-mb {args.max_stored_mb}",
        )
        self.emulator = Emulator(
            host=args.host,
            port=args.emulator_port,
            storage_bound=self.storage_bound,
            in_process_sdk=True,  # the handlers, dispatcher and journey here: no HTTP
        )
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
            max_receive_count=args.max_receives,
        )
        auth_mode = self.api_settings.auth_mode
        issuer = DevIssuer()
        try:  # binds now, serves once the resources exist
            self.front = ApiFront(
                api_handler,
                invoke=api_invoke,
                host=args.host,
                port=args.api_port,
                cors_allow_origins=self.api_settings.cors_allow_origins,
                region=region,
                upload_limits=UploadLimits.from_settings(self.api_settings),
                body_timeout_s=args.body_timeout,
                max_connections=args.max_connections,
                admit_upload=self.storage_bound.refusal,
                on_request_started=journey.on_request_started,
                on_request=journey.on_request,
                authorize=authorizer_for(auth_mode, issuer),
            )
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise StartError(port_in_use_message(args.host, args.api_port, "--api-port")) from e
            raise
        origins = self.api_settings.cors_allow_origins
        if not origins:  # port 0: the front's own origins are known now
            port = self.front.url.rsplit(":", 1)[1]
            origins = own_origins(args.host, int(port))
            self.front.allow_origins(origins)
            if api_invoke is None:
                self.api_settings = replace(self.api_settings, cors_allow_origins=origins)
                bootstrap.install("api", bootstrap.build(self.api_settings, emulator))
        self.resources = ensure_resources(
            uploads_bucket=args.uploads_bucket,
            processed_bucket=args.processed_bucket,
            table=args.table,
            queue=args.queue,
            region=region,
            endpoint_url=endpoint_url,
            max_receive_count=args.max_receives,
            visibility_timeout_s=args.visibility_timeout,
            quota_table=self.api_settings.quota_table,
            upload_cors_origins=tuple(o for o in origins if o != "*") or ("*",),
        )
        journey.dlq_url = self.resources.dlq_url
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
            dlq_url=self.resources.dlq_url,
            auth_mode=auth_mode,
            tokens=dev_credentials(auth_mode, issuer),
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
    queue_flag = "" if args.queue == DEFAULTS.queue else f" --queue {args.queue}"
    console.print("local image pipeline ready", style="bold", highlight=False)
    console.print(
        f"  upload page   {ready.api_url}/\n"
        f"  API           {ready.api_url}  (POST /images, POST /uploads, GET /images[/ID])\n"
        f"  AWS emulator  {ready.endpoint_url}  (S3, DynamoDB, SQS; region {ready.region})\n"
        f"  buckets       s3://{ready.uploads_bucket} -> s3://{ready.processed_bucket}\n"
        f"  table         {ready.table}\n"
        f"  queue         {queue_url} (DLQ after {args.max_receives} receives)\n"
        f"  DLQ           {ready.dlq_url}\n"
        f"    list:    python -m deploy.local.dlq list --endpoint-url {ready.endpoint_url}"
        f"{queue_flag}\n"
        f"    redrive: python -m deploy.local.dlq redrive --endpoint-url {ready.endpoint_url}"
        f"{queue_flag}\n"
        f"  reprocess: python -m deploy.local.reprocess --all --endpoint-url "
        f"{ready.endpoint_url}{queue_flag}\n"
        f"  upload:  curl -F file=@photo.jpg {ready.api_url}/images\n"
        f"  status:  curl {ready.api_url}/images/IMAGE_ID\n"
        f"{credentials_hint(ready)}"
        f"  AWS CLI (any credentials work against the emulator):\n"
        f"    {CLI_CREDENTIALS} aws --endpoint-url {ready.endpoint_url} "
        f"s3 ls s3://{ready.processed_bucket}\n"
        f"    {CLI_CREDENTIALS} aws --endpoint-url {ready.endpoint_url} --region {ready.region} "
        f"dynamodb scan --table-name {ready.table}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        "  note: everything lives in memory: stopping this process (or a crash) loses every "
        "upload, item and rendition; new uploads are refused once "
        f"{args.max_stored_mb} MB are stored (--max-stored-mb)",
        style="yellow",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def credentials_hint(ready: Ready) -> str:
    """Banner lines for ``AUTH_MODE`` jwt/iam: who the API trusts and each caller's header."""
    if ready.auth_mode == "none":
        return ""
    what = {
        "jwt": "AUTH_MODE=jwt: send an ID token of the local dev issuer (below; 12 h) as "
        "-H 'Authorization: TOKEN'; paste one into the page's token field",
        "iam": "AUTH_MODE=iam: send a SigV4 Authorization header (signatures are not checked "
        "locally; the access key names the caller)",
    }[ready.auth_mode]
    lines = [f"  {what}"]
    lines += [f"    {name}: {value}" for name, value in ready.tokens.items()]
    return "\n".join(lines) + "\n"


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
    if out_dir is not None:
        removed = forget_previous_run(out_dir, keep=[s.path for s in sources])
        if removed:
            log.info(
                "%s: removed %d rendition%s the previous run wrote (listed in its %s)",
                out_dir,
                len(removed),
                "" if len(removed) == 1 else "s",
                RESULTS_FILE,
            )
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
            token=next(iter(ready.tokens.values()), None),
        )
    elapsed_s = time.monotonic() - started
    table_file = stdout or sys.stdout
    out = Console(file=table_file)
    if not out.is_terminal:  # a pipe or file: no terminal width to fit, keep rows whole
        out = Console(file=table_file, width=200)
    out.print(summary_table(outcomes, width=out.width))
    for line in summary_lines(outcomes, elapsed_s, out_dir):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    return 0 if all(o.status == "processed" for o in outcomes) else 1


def summary_lines(
    outcomes: list[ImageOutcome], elapsed_s: float, out_dir: Path | None
) -> list[str]:
    """What the batch form says under its table: counts (a rate only when something was
    processed), where this run's renditions and outcomes are, and what stops working."""
    processed = sum(o.status == "processed" for o in outcomes)
    lines = [f"{processed} of {len(outcomes)} processed in {elapsed_s:.1f} s"]
    if processed:
        lines[0] += f" ({processed / max(elapsed_s, 1e-9):.2f} images/s)"
    if out_dir is None:
        return lines
    saved = sum(o.output is not None for o in outcomes)
    files = sum(len(o.outputs) if o.outputs else int(o.output is not None) for o in outcomes)
    results = out_dir / RESULTS_FILE
    if saved:
        of_images = f" of {saved} image{'s' if saved != 1 else ''}" if files != saved else ""
        lines.append(
            f"this run's {files} rendition{'s' if files != 1 else ''}{of_images} saved under "
            f"{out_dir}/, every outcome in {results}"
        )
        lines.append(
            f"note: the download_url values in {RESULTS_FILE} stop working when this "
            "run exits (the emulator keeps everything in memory); the renditions "
            f"are saved under {out_dir}/"
        )
    else:
        lines.append(f"no renditions saved; every outcome in {results}")
    return lines


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
