"""A function run from the container image as Lambda runs it: the image's own entry point
(awslambdaric) with the handler as command, behind an external instance of the project's
Lambda service (``deploy.local.lambda_service``), with Lambda's constraints (read-only root,
``/tmp`` as tmpfs, the function's memory size, uid 10001, the host's loopback).

Used by tests/container (the functions' behaviour) and benchmarks/image.py (their init
duration). Every engine command goes through :func:`tests.container.lab.cli`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from deploy.local.apigw_events import build_event
from deploy.local.emulator import Emulator
from deploy.local.lambda_service import FunctionConfig, LambdaFunction
from deploy.local.resources import ensure_resources
from tests.container import lab
from tests.support.events import load_event

REGION = "us-east-1"
RESIZE_COMMAND = "handlers.resize.handler"
API_COMMAND = "handlers.api.handler"


@dataclass(frozen=True, slots=True)
class Storage:
    """Where the functions' storage is: the endpoint and the pipeline's resource names."""

    endpoint_url: str
    uploads_bucket: str
    processed_bucket: str
    table: str


def storage_free_event(command: str) -> dict[str, Any]:
    """An event the function ``command`` settles at once, without any AWS call: for the
    resize function S3's ``s3:TestEvent`` in an SQS message (what S3 sends when a
    notification is configured), for the API a CORS preflight."""
    if command == RESIZE_COMMAND:
        return load_event("sqs_s3_test_event")
    return build_event(
        method="OPTIONS",
        target="/images",
        headers=[("Origin", "https://app.example.com"), ("Access-Control-Request-Method", "POST")],
        body=b"",
        source_ip="127.0.0.1",
        host="127.0.0.1",
        port=8080,
    )


@contextmanager
def emulated_storage(
    uploads_bucket: str, processed_bucket: str, table: str, queue: str
) -> Iterator[Storage]:
    """moto's server on a free loopback port with the pipeline's resources (buckets, table,
    queue); stopped afterwards. Containers on the host network reach it there."""
    with Emulator(port=0) as emulator:
        ensure_resources(
            uploads_bucket=uploads_bucket,
            processed_bucket=processed_bucket,
            table=table,
            queue=queue,
            region=REGION,
            endpoint_url=emulator.endpoint_url,
        )
        yield Storage(emulator.endpoint_url, uploads_bucket, processed_bucket, table)


def function_environment(
    name: str, storage: Storage, *, memory_mb: int, runtime_api: str
) -> dict[str, str]:
    """What Lambda and the template give function ``name`` (deploy/aws/template.yaml), with
    ``runtime_api`` (``host:port``) as ``AWS_LAMBDA_RUNTIME_API``; one SDK attempt."""
    return {
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_ENDPOINT_URL": storage.endpoint_url,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "UPLOADS_BUCKET": storage.uploads_bucket,
        "PROCESSED_BUCKET": storage.processed_bucket,
        "METADATA_TABLE": storage.table,
        "S3_ADDRESSING_STYLE": "path",
        "AWS_MAX_ATTEMPTS": "1",
    }


@contextmanager
def external_function(
    name: str, *, timeout_s: float = 60, memory_mb: int = 1024, queue_timeout_s: float = 120
) -> Iterator[LambdaFunction]:
    """The Lambda service serving ``name`` for an instance started elsewhere (a container),
    on a free loopback port (``function.runtime_api``); stopped afterwards.

    ``queue_timeout_s``: how long an invocation waits for an instance (the first start of
    the image copies it, with the lab's vfs storage: seconds).
    """
    function = LambdaFunction(
        FunctionConfig(
            name,
            external=True,
            timeout_s=timeout_s,
            memory_mb=memory_mb,
            runtime_api=("127.0.0.1", 0),
            queue_timeout_s=queue_timeout_s,
        )
    )
    function.start()
    try:
        yield function
    finally:
        function.stop()


@contextmanager
def function_container(
    function: LambdaFunction,
    command: str,
    storage: Storage,
    *,
    image: str = lab.IMAGE,
    init: bool = True,
    prefix: str = "test",
) -> Iterator[str]:
    """One container of ``image`` running ``command`` (the handler) as an instance of
    ``function`` (:func:`external_function`); yields its name, removes it afterwards.

    ``init``: an init process as PID 1 (compose's ``init: true``: the runtime gets SIGTERM);
    Lambda has none, so an init-duration measurement runs without.

    Raises:
        subprocess.CalledProcessError: the engine could not start it.
    """
    config = function.config
    assert function.runtime_api is not None, "start the function first"
    environment = function_environment(
        config.name, storage, memory_mb=config.memory_mb, runtime_api=function.runtime_api
    )
    name = f"{prefix}-{config.name}-{uuid.uuid4().hex[:8]}"
    env_args = [arg for key, value in environment.items() for arg in ("-e", f"{key}={value}")]
    lab.cli(
        "run", "--detach", "--name", name, "--network=host", "--read-only",
        "--tmpfs", "/tmp", "--memory", f"{config.memory_mb}m", *(["--init"] if init else []),
        *env_args, image, command,
    )  # fmt: skip
    try:
        yield name
    finally:
        lab.cli("rm", "--force", name, check=False)


@contextmanager
def function_from_image(
    name: str,
    command: str,
    storage: Storage,
    *,
    timeout_s: float = 60,
    memory_mb: int = 1024,
) -> Iterator[tuple[LambdaFunction, str]]:
    """The Lambda service serving ``name``, one container of the image as its instance;
    yields the function (``invoke`` it) and the container's name."""
    with (
        external_function(name, timeout_s=timeout_s, memory_mb=memory_mb) as function,
        function_container(function, command, storage) as container_name,
    ):
        yield function, container_name
