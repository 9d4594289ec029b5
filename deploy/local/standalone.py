"""The set-up shared by the local services run on their own (compose's ``worker`` and ``api``).

``python -m deploy.local.dispatcher`` and ``python -m deploy.local.http_front`` each wrap one
handler; both do the same around it:

1. :func:`service_parser`: a command line with ``--handler`` (a dotted path, imported by
   :func:`load_handler`);
2. :func:`check_settings`: the handler's settings checked before anything starts (a bad
   environment is a usage error, exit 2, not a crash at the first request);
3. :func:`configure_logging`: INFO lines on stderr, the SDK's chatter at WARNING;
4. :func:`run_until_signalled`: start, serve until SIGINT or SIGTERM, stop.

Runs in the container image: the standard library and ``handlers`` only.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable

from deploy.local.lambda_context import Handler
from handlers.config import ConfigError, Role, Settings

QUIET_LOGGERS = ("botocore", "boto3", "urllib3")


def service_parser(module: str, description: str, default_handler: str) -> argparse.ArgumentParser:
    """The command line of ``python -m <module>``, with its ``--handler`` option."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument(
        "--handler",
        default=default_handler,
        help="dotted path of the handler (default: %(default)s)",
    )
    return parser


def load_handler(dotted: str) -> Handler:
    """Import ``"package.module.function"`` and return the function."""
    module_name, _, attribute = dotted.rpartition(".")
    handler: Handler = getattr(importlib.import_module(module_name), attribute)
    return handler


def check_settings(parser: argparse.ArgumentParser, role: Role) -> Settings:
    """The handlers' settings for ``role``, read from the environment now.

    A bad environment ends the process with argparse's usage-error form (exit 2, the
    message listing every problem), before anything starts.
    """
    try:
        return Settings.from_env(os.environ, role=role)
    except ConfigError as e:
        parser.exit(2, f"{parser.prog}: error: {e}\n")


def configure_logging() -> None:
    """INFO lines with a time stamp on stderr; botocore, boto3 and urllib3 at WARNING."""
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def run_until_signalled(start: Callable[[], None], stop: Callable[[], None]) -> int:
    """Call ``start``, wait for SIGINT or SIGTERM, call ``stop``; the exit code (0)."""
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    start()
    stopping.wait()
    stop()
    return 0
