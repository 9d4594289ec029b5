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

import dataclasses
import io
import json
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from PIL import Image

from deploy.local.apigw_events import build_event
from tests.container import lab
from tests.support.events import s3_event_for, sqs_event
from tests.support.images import pixel, red_blue_jpeg
from tests.support.lambda_image import (
    API_COMMAND,
    REGION,
    RESIZE_COMMAND,
    Storage,
    emulated_storage,
    function_from_image,
    storage_free_event,
)

pytestmark = [pytest.mark.container, pytest.mark.timeout(300)]

UPLOADS, PROCESSED, TABLE, QUEUE = "img-uploads", "img-processed", "img-metadata", "img-resize"


@pytest.fixture(scope="module")
def storage() -> Iterator[Storage]:
    """moto's server on a free loopback port with the pipeline's resources."""
    reason = lab.why_unavailable()
    if reason:
        pytest.skip(f"container tests: {reason}")
    with emulated_storage(UPLOADS, PROCESSED, TABLE, QUEUE) as storage:
        yield storage


def client(service: Any, storage: Storage) -> Any:
    return boto3.client(
        service,
        endpoint_url=storage.endpoint_url,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def test_resize_function_turns_an_s3_event_into_a_rendition_and_an_item(storage: Storage) -> None:
    s3 = client("s3", storage)
    key = "photos/cat one.jpg"
    s3.put_object(
        Bucket=UPLOADS, Key=key, Body=red_blue_jpeg((1600, 1200)), ContentType="image/jpeg"
    )
    event = sqs_event(s3_event_for(UPLOADS, key, s3.head_object(Bucket=UPLOADS, Key=key)))

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


def test_api_function_answers_202_and_stores_the_upload(storage: Storage) -> None:
    body = red_blue_jpeg((640, 480))
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


def test_a_handler_error_arrives_in_lambdas_error_shape(storage: Storage) -> None:
    with function_from_image("resize", "handlers.resize.handler", storage) as (function, _):
        result = function.invoke({"not": "an event the function knows"})

    assert result.status == "error"
    assert result.payload["errorType"] == "EventShapeError"
    assert result.payload["errorMessage"]
    assert any("handlers/" in line for line in result.payload["stackTrace"])
    cause = json.loads(result.headers["lambda-runtime-function-xray-error-cause"])
    assert cause["exceptions"][0]["type"] == "EventShapeError"


def test_a_handler_that_cannot_be_imported_is_an_init_error(storage: Storage) -> None:
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
    storage: Storage, black_hole: str
) -> None:
    s3 = client("s3", storage)
    key = "slow/photo.jpg"
    s3.put_object(Bucket=UPLOADS, Key=key, Body=red_blue_jpeg((64, 48)))
    event = s3_event_for(UPLOADS, key, s3.head_object(Bucket=UPLOADS, Key=key))
    hanging = dataclasses.replace(storage, endpoint_url=black_hole)

    with function_from_image("resize", "handlers.resize.handler", hanging, timeout_s=3) as (
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


@pytest.mark.parametrize("command", [RESIZE_COMMAND, API_COMMAND])
def test_a_function_container_stops_on_sigterm(storage: Storage, command: str) -> None:
    """With compose's ``init: true`` the runtime gets SIGTERM and ends at once (exit 143),
    not SIGKILL at the end of the grace period (137)."""
    with function_from_image("fn", command, storage) as (function, container_name):
        result = function.invoke(storage_free_event(command))  # then it waits in /next again
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
