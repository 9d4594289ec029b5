"""Both functions from the built image, run as Lambda runs them: the image's own entry
point (awslambdaric) and the handler as command, driven through the Runtime API of the
project's Lambda service (``deploy.local.lambda_service``, external instances).

Each container runs with Lambda's constraints: read-only root, ``/tmp`` as tmpfs, the
function's memory size, uid 10001, on the host's loopback (``--network=host``; nothing
listens beyond 127.0.0.1). Storage is moto's server on a loopback port (the compose
tests in tests/integration use LocalStack).

Skipped, with the reason, where the container lab cannot run or the image is not built.
"""

from __future__ import annotations

import io
import json
import socket
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from PIL import Image

from deploy.local.apigw_events import build_event
from deploy.local.emulator import Emulator
from deploy.local.lambda_service import FunctionConfig, LambdaFunction
from deploy.local.resources import ensure_resources
from tests.container import lab

pytestmark = [pytest.mark.container, pytest.mark.timeout(300)]

REGION = "us-east-1"
UPLOADS, PROCESSED, TABLE, QUEUE = "img-uploads", "img-processed", "img-metadata", "img-resize"


@pytest.fixture(scope="module")
def storage() -> Iterator[str]:
    """moto's server on a free loopback port with the pipeline's resources; its URL."""
    reason = lab.why_unavailable()
    if reason:
        pytest.skip(f"container tests: {reason}")
    with Emulator(port=0) as emulator:
        ensure_resources(
            uploads_bucket=UPLOADS,
            processed_bucket=PROCESSED,
            table=TABLE,
            queue=QUEUE,
            region=REGION,
            endpoint_url=emulator.endpoint_url,
        )
        yield emulator.endpoint_url


def client(service: Any, endpoint_url: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def function_environment(name: str, endpoint_url: str, memory_mb: int) -> dict[str, str]:
    """What Lambda and the template give the function (deploy/aws/template.yaml)."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "UPLOADS_BUCKET": UPLOADS,
        "PROCESSED_BUCKET": PROCESSED,
        "METADATA_TABLE": TABLE,
        "S3_ADDRESSING_STYLE": "path",
        "AWS_MAX_ATTEMPTS": "1",
    }


@contextmanager
def container(
    name: str,
    command: str,
    environment: Mapping[str, str],
    *,
    memory_mb: int,
    detach: bool = True,
) -> Iterator[str]:
    """``podman run`` of the image with ``command`` (the handler) as Lambda would; its name."""
    container_name = f"test-{name}-{uuid.uuid4().hex[:8]}"
    env_args = [arg for key, value in environment.items() for arg in ("-e", f"{key}={value}")]
    lab.cli(
        "run", "--detach", "--name", container_name, "--network=host", "--read-only",
        "--tmpfs", "/tmp", "--memory", f"{memory_mb}m", "--init", *env_args,
        lab.IMAGE, command,
    )  # fmt: skip
    try:
        yield container_name
    finally:
        lab.cli("rm", "--force", container_name, check=False)


@contextmanager
def function_from_image(
    name: str,
    command: str,
    endpoint_url: str,
    *,
    timeout_s: float = 60,
    memory_mb: int = 1024,
) -> Iterator[tuple[LambdaFunction, str]]:
    """The Lambda service serving ``name``, one container of the image as its instance."""
    function = LambdaFunction(
        FunctionConfig(
            name,
            external=True,
            timeout_s=timeout_s,
            memory_mb=memory_mb,
            runtime_api=("127.0.0.1", 0),
            queue_timeout_s=120,  # the first start copies the image (vfs): seconds
        )
    )
    function.start()
    environment = function_environment(name, endpoint_url, memory_mb)
    assert function.runtime_api is not None
    environment["AWS_LAMBDA_RUNTIME_API"] = function.runtime_api
    try:
        with container(name, command, environment, memory_mb=memory_mb) as container_name:
            yield function, container_name
    finally:
        function.stop()


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    """The RGB value at ``xy``."""
    value = image.getpixel(xy)
    assert isinstance(value, tuple), value
    return value


def jpeg(size: tuple[int, int]) -> bytes:
    """A JPEG whose left half is red and right half blue, ``size`` = (width, height)."""
    image = Image.new("RGB", size, (255, 0, 0))
    image.paste((0, 0, 255), (size[0] // 2, 0, size[0], size[1]))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def s3_event(bucket: str, key: str, head: Mapping[str, Any]) -> dict[str, Any]:
    """S3's ObjectCreated:Put notification for ``bucket``/``key`` (key URL-encoded, as S3)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": "2026-01-01T00:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {
                        "key": urllib.parse.quote_plus(key, safe="/"),
                        "size": head["ContentLength"],
                        "eTag": head["ETag"].strip('"'),
                        "sequencer": "0A1B2C3D4E5F678901",
                    },
                },
            }
        ]
    }


def sqs_event(*bodies: str) -> dict[str, Any]:
    """Lambda's SQS event with one record per body."""
    return {
        "Records": [
            {
                "messageId": f"m-{n}",
                "receiptHandle": f"rh-{n}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1767225600000"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:{QUEUE}",
                "awsRegion": REGION,
            }
            for n, body in enumerate(bodies)
        ]
    }


def test_resize_function_turns_an_s3_event_into_a_rendition_and_an_item(storage: str) -> None:
    s3 = client("s3", storage)
    key = "photos/cat one.jpg"
    s3.put_object(Bucket=UPLOADS, Key=key, Body=jpeg((1600, 1200)), ContentType="image/jpeg")
    event = sqs_event(json.dumps(s3_event(UPLOADS, key, s3.head_object(Bucket=UPLOADS, Key=key))))

    with function_from_image("resize", "handlers.resize.handler", storage) as (function, _):
        result = function.invoke(event)

    assert result.ok, result.payload
    assert result.payload == {"batchItemFailures": []}
    rendition = s3.get_object(Bucket=PROCESSED, Key=key)["Body"].read()
    with Image.open(io.BytesIO(rendition)) as image:
        assert (image.format, image.size) == ("JPEG", (500, 375))
        left, right = pixel(image, (10, 187)), pixel(image, (490, 187))
    assert left[0] > 200 and left[2] < 60
    assert right[2] > 200 and right[0] < 60
    items = client("dynamodb", storage).scan(TableName=TABLE)["Items"]
    (item,) = [i for i in items if i["source_key"]["S"] == key]
    assert item["status"]["S"] == "processed"
    assert (item["processed_width"]["N"], item["processed_height"]["N"]) == ("500", "375")


def test_api_function_answers_202_and_stores_the_upload(storage: str) -> None:
    body = jpeg((640, 480))
    event = build_event(
        method="POST",
        target="/images?filename=dog.jpg",
        headers=[("Content-Type", "image/jpeg"), ("Host", "127.0.0.1:8080")],
        body=body,
        source_ip="127.0.0.1",
        host="127.0.0.1",
        port=8080,
    )

    with function_from_image(
        "api", "handlers.api.handler", storage, timeout_s=29, memory_mb=512
    ) as (function, _):
        result = function.invoke(event)

    assert result.ok, result.payload
    assert result.payload["statusCode"] == 202
    answer = json.loads(result.payload["body"])
    assert answer["status"] == "pending"
    image_id = answer["image_id"]
    item = client("dynamodb", storage).get_item(TableName=TABLE, Key={"image_id": {"S": image_id}})
    assert item["Item"]["status"]["S"] == "pending"
    stored = client("s3", storage).get_object(Bucket=UPLOADS, Key=item["Item"]["source_key"]["S"])
    assert stored["Body"].read() == body


def test_a_handler_error_arrives_in_lambdas_error_shape(storage: str) -> None:
    with function_from_image("resize", "handlers.resize.handler", storage) as (function, _):
        result = function.invoke({"not": "an event the function knows"})

    assert result.status == "error"
    assert result.payload["errorType"] == "EventShapeError"
    assert result.payload["errorMessage"]
    assert any("handlers/" in line for line in result.payload["stackTrace"])
    cause = json.loads(result.headers["lambda-runtime-function-xray-error-cause"])
    assert cause["exceptions"][0]["type"] == "EventShapeError"


def test_a_handler_that_cannot_be_imported_is_an_init_error(storage: str) -> None:
    with function_from_image("resize", "handlers.no_such_module.handler", storage) as (
        function,
        container_name,
    ):
        result = function.invoke({"Records": []})
        exit_code = lab.cli("wait", container_name, timeout_s=60).stdout.strip()

    assert result.status == "init_error"
    assert result.payload["errorType"] == "Runtime.ImportModuleError"
    assert "handlers.no_such_module" in result.payload["errorMessage"]
    assert exit_code == "1"


@pytest.fixture
def black_hole() -> Iterator[str]:
    """An endpoint that accepts connections and never answers (a storage that hangs)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def test_an_invocation_past_the_timeout_fails_with_lambdas_timeout_error(
    storage: str, black_hole: str
) -> None:
    s3 = client("s3", storage)
    key = "slow/photo.jpg"
    s3.put_object(Bucket=UPLOADS, Key=key, Body=jpeg((64, 48)))
    event = s3_event(UPLOADS, key, s3.head_object(Bucket=UPLOADS, Key=key))

    with function_from_image("resize", "handlers.resize.handler", black_hole, timeout_s=3) as (
        function,
        _,
    ):
        started = time.monotonic()
        result = function.invoke(event)
        waited_s = time.monotonic() - started

    assert result.status == "timeout"
    assert result.payload["errorType"] == "Sandbox.Timedout"
    assert result.payload["errorMessage"].endswith("Task timed out after 3.00 seconds")
    assert waited_s < 30  # the SDK's own read timeout (30 s) did not end it


S3_TEST_EVENT = json.dumps(
    {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": UPLOADS, "RequestId": "r"}
)
"""What S3 sends when a notification is configured: settled without any AWS call."""


def warm_event(command: str) -> dict[str, Any]:
    """An event ``command`` answers at once, without storage."""
    if command == "handlers.resize.handler":
        return sqs_event(S3_TEST_EVENT)
    return build_event(
        method="OPTIONS",
        target="/images",
        headers=[("Origin", "https://app.example.com"), ("Access-Control-Request-Method", "POST")],
        body=b"",
        source_ip="127.0.0.1",
        host="127.0.0.1",
        port=8080,
    )


@pytest.mark.parametrize("command", ["handlers.resize.handler", "handlers.api.handler"])
def test_a_function_container_stops_on_sigterm(storage: str, command: str) -> None:
    """With compose's ``init: true`` the runtime gets SIGTERM and ends at once (exit 143),
    not SIGKILL at the end of the grace period (137)."""
    with function_from_image("fn", command, storage) as (function, container_name):
        result = function.invoke(warm_event(command))  # then it waits in /next again
        assert result.ok, result.payload
        started = time.monotonic()
        lab.cli("stop", "--time", "10", container_name, timeout_s=60)
        stopped_s = time.monotonic() - started
        exit_code = lab.cli("inspect", "-f", "{{.State.ExitCode}}", container_name).stdout

    assert exit_code.strip() == "143"
    assert stopped_s < 10


def test_the_lambda_service_container_stops_on_sigterm() -> None:
    reason = lab.why_unavailable()
    if reason:
        pytest.skip(f"container tests: {reason}")
    name = f"test-lambda-service-{uuid.uuid4().hex[:8]}"
    lab.cli(
        "run", "--detach", "--name", name, "--network=host", "--init",
        "--entrypoint", "python", lab.IMAGE, "-m", "deploy.local.lambda_service",
        "--external", "resize", "--runtime-api", "resize=127.0.0.1:0",
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        logs = ""
        while time.monotonic() < deadline and '"functions"' not in logs:
            logs = lab.cli("logs", name, check=False).stdout
            time.sleep(0.5)
        assert '"functions"' in logs, lab.container_logs([name])
        started = time.monotonic()
        lab.cli("stop", "--time", "10", name, timeout_s=60)
        stopped_s = time.monotonic() - started
        exit_code = lab.cli("inspect", "-f", "{{.State.ExitCode}}", name).stdout
    finally:
        lab.cli("rm", "--force", name, check=False)

    assert exit_code.strip() == "0"
    assert stopped_s < 10
