"""The Lambda service emulator (deploy.local.lambda_service) against the in-process AWS
emulator: the project's handlers as ``python -m awslambdaric`` processes behind the Runtime
API, the API front invoking through it, the SQS event source mapping's partial batch
failures, the command line, and ``python -m deploy.local --functions process``."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from PIL import Image

from deploy.local.dispatcher import BatchOutcome
from deploy.local.http_front import ApiFront
from deploy.local.lambda_service import FunctionConfig, LambdaFunction
from deploy.local.lambda_service.sqs_mapping import SqsEventSourceMapping
from deploy.local.resources import ensure_resources
from tests.e2e.conftest import LOCAL_PIPELINE, ROOT, quadrant_jpeg, wait_until
from tests.support.events import s3_event

pytest.importorskip("awslambdaric")

REGION = "us-east-1"
UPLOADS, PROCESSED, TABLE, QUEUE = "ls-uploads", "ls-processed", "ls-images", "ls-events"


@pytest.fixture(scope="module")
def environ(emulator: str) -> dict[str, str]:
    """The functions' environment: the emulator, the pipeline's resources (created)."""
    ensure_resources(
        uploads_bucket=UPLOADS,
        processed_bucket=PROCESSED,
        table=TABLE,
        queue=QUEUE,
        region=REGION,
        endpoint_url=emulator,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env.update(
        AWS_ENDPOINT_URL=emulator,
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        UPLOADS_BUCKET=UPLOADS,
        PROCESSED_BUCKET=PROCESSED,
        METADATA_TABLE=TABLE,
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


def started(config: FunctionConfig) -> Iterator[LambdaFunction]:
    function = LambdaFunction(config)
    function.start()
    try:
        yield function
    finally:
        function.stop()


@pytest.fixture(scope="module")
def resize(environ: dict[str, str]) -> Iterator[LambdaFunction]:
    yield from started(FunctionConfig("resize", handler="handlers.resize.handler", environ=environ))


@pytest.fixture(scope="module")
def api(environ: dict[str, str]) -> Iterator[LambdaFunction]:
    yield from started(
        FunctionConfig(
            "api", handler="handlers.api.handler", environ=environ, timeout_s=29, memory_mb=512
        )
    )


def client(environ: dict[str, str], service: Any) -> Any:
    return boto3.client(service, endpoint_url=environ["AWS_ENDPOINT_URL"], region_name=REGION)


def test_resize_instance_turns_an_s3_event_into_a_rendition_and_an_item(
    environ: dict[str, str], resize: LambdaFunction
) -> None:
    s3, dynamodb = client(environ, "s3"), client(environ, "dynamodb")
    key = "direct/holiday photo.jpg"
    s3.put_object(Bucket=UPLOADS, Key=key, Body=quadrant_jpeg((1600, 1200)))
    head = s3.head_object(Bucket=UPLOADS, Key=key)
    event = s3_event(UPLOADS, key, etag=head["ETag"].strip('"'), size_bytes=head["ContentLength"])

    result = resize.invoke(event)

    assert result.ok, result.payload
    items = dynamodb.scan(TableName=TABLE)["Items"]
    (item,) = [i for i in items if i["source_key"]["S"] == key]
    assert item["status"]["S"] == "processed"
    assert (item["processed_width"]["N"], item["processed_height"]["N"]) == ("500", "375")
    body = s3.get_object(Bucket=PROCESSED, Key=item["processed_key"]["S"])["Body"].read()
    with Image.open(io.BytesIO(body)) as rendition:
        assert rendition.size == (500, 375)
        rgb = rendition.convert("RGB")
        red, green = rgb.getpixel((60, 60)), rgb.getpixel((440, 60))
        blue, white = rgb.getpixel((60, 300)), rgb.getpixel((440, 300))
    assert isinstance(red, tuple) and isinstance(green, tuple)
    assert isinstance(blue, tuple) and isinstance(white, tuple)
    assert red[0] > 230 and red[1] < 30 and red[2] < 30
    assert green[1] > 230 and green[0] < 30
    assert blue[2] > 230 and blue[0] < 30
    assert min(white) > 230


def test_api_front_invokes_the_api_instance_through_the_runtime_api(
    environ: dict[str, str], api: LambdaFunction
) -> None:
    front = ApiFront(None, invoke=api.call, port=0, region=REGION)
    url = front.start()
    try:
        reply = requests.post(
            f"{url}/images",
            data=quadrant_jpeg((800, 600)),
            headers={"Content-Type": "image/jpeg", "X-Filename": "q.jpg"},
            timeout=30,
        )
        assert reply.status_code == 202, reply.text
        image_id = reply.json()["image_id"]
        polled = requests.get(f"{url}/images/{image_id}", timeout=30)
    finally:
        front.stop()
    assert polled.status_code == 200 and polled.json()["image_id"] == image_id
    keys = [o["Key"] for o in client(environ, "s3").list_objects_v2(Bucket=UPLOADS)["Contents"]]
    assert any(image_id in key for key in keys)


def test_api_front_maps_a_function_error_to_502(environ: dict[str, str]) -> None:
    config = FunctionConfig("api", handler="tests.deploy.runtime_handlers.fail", environ=environ)
    for function in started(config):
        front = ApiFront(None, invoke=function.call, port=0, region=REGION)
        url = front.start()
        try:
            reply = requests.get(f"{url}/images", headers={"Origin": "http://x"}, timeout=30)
        finally:
            front.stop()
    assert reply.status_code == 502
    assert reply.json() == {"error": {"code": "internal_error", "message": "Internal server error"}}
    assert reply.headers["Access-Control-Allow-Origin"] == "*"


@pytest.fixture(scope="module")
def partial(environ: dict[str, str]) -> Iterator[LambdaFunction]:
    config = FunctionConfig(
        "partial", handler="tests.deploy.runtime_handlers.partial_batch", environ=environ
    )
    yield from started(config)


def run_one_batch(
    environ: dict[str, str], function: LambdaFunction, bodies: list[str]
) -> tuple[BatchOutcome, list[dict[str, Any]]]:
    """Send ``bodies`` to a fresh queue (visibility 1 s), let the mapping take one batch;
    return its outcome and what the queue redelivers afterwards."""
    sqs = client(environ, "sqs")
    name = f"mapping-{time.monotonic_ns()}"
    queue_url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    for body in bodies:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    outcomes: list[BatchOutcome] = []
    mapping = SqsEventSourceMapping(
        queue_url,
        function,
        sqs=sqs,
        batch_size=10,
        batch_window_s=1,
        wait_time_s=1,
        on_batch=outcomes.append,
    )
    mapping.start()
    try:
        wait_until(lambda: outcomes, timeout_s=30)
    finally:
        mapping.stop(timeout_s=5)
    # the visibility timeout (a poller still in its long poll when the mapping stopped may
    # hold the message for one more visibility timeout: the receive below waits that out)
    time.sleep(1.2)
    redelivered = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=3, AttributeNames=["All"]
    ).get("Messages", [])
    return outcomes[0], redelivered


def test_sqs_mapping_deletes_only_the_messages_not_named_in_batch_item_failures(
    environ: dict[str, str], partial: LambdaFunction
) -> None:
    outcome, redelivered = run_one_batch(environ, partial, ["good-1", "bad", "good-2"])
    bodies = {r["messageId"]: r["body"] for r in outcome.records}
    assert sorted(bodies.values()) == ["bad", "good-1", "good-2"]  # one batch (the window)
    assert sorted(bodies[i] for i in outcome.deleted) == ["good-1", "good-2"]
    assert [bodies[i] for i in outcome.failed] == ["bad"]
    # only the failed message comes back (received again, maybe by the mapping before it stopped)
    (again,) = redelivered
    assert again["Body"] == "bad" and int(again["Attributes"]["ApproximateReceiveCount"]) >= 2


def test_sqs_mapping_leaves_the_whole_batch_when_the_function_fails(
    environ: dict[str, str], partial: LambdaFunction
) -> None:
    outcome, redelivered = run_one_batch(environ, partial, ["good", "crash"])
    assert outcome.deleted == [] and len(outcome.failed) == 2
    assert outcome.error is not None and "RuntimeError: a crash in the batch" in str(outcome.error)
    assert sorted(m["Body"] for m in redelivered) == ["crash", "good"]


def test_command_line_serves_and_stops_on_sigterm_within_a_second(
    environ: dict[str, str],
) -> None:
    command = [sys.executable, "-m", "deploy.local.lambda_service"]
    command += ["--function", "echo=tests.deploy.runtime_handlers.echo", "--instances", "echo=2"]
    command += ["--timeout", "echo=5", "--memory", "echo=256", "--api", "127.0.0.1:0=echo"]
    command += ["--external", "ext", "--sqs", f"echo={QUEUE}"]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        assert ready["functions"]["echo"] == {
            "runtime_api": None,
            "external": False,
            "instances": 2,
        }
        assert ready["functions"]["ext"]["external"] is True
        assert ready["functions"]["ext"]["runtime_api"].startswith("127.0.0.1:")
        reply = requests.get(f"{ready['api_url']}/anything?x=1", timeout=30)
        # the echo handler's answer is no proxy response: API Gateway's 502
        assert reply.status_code == 502
        page = requests.get(f"{ready['api_url']}/", timeout=30)
        assert page.status_code == 200 and "<html" in page.text.lower()
    finally:
        process.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        code = process.wait(timeout=10)
    assert code == 0
    assert time.monotonic() - sent < 1.0


def test_command_line_usage_errors_exit_2() -> None:
    command = [sys.executable, "-m", "deploy.local.lambda_service", "--external", "a"]
    for extra in (["--sqs", "b=q"], ["--api", "127.0.0.1:0=b"], ["--timeout", "a=-1"], []):
        if not extra:
            command = [sys.executable, "-m", "deploy.local.lambda_service"]
        done = subprocess.run(command + extra, cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 2, (extra, done.stderr)
        assert "error:" in done.stderr


def test_local_pipeline_runs_the_functions_as_processes(tmp_path: Any) -> None:
    image = tmp_path / "quadrants.jpg"
    image.write_bytes(quadrant_jpeg((1600, 1200)))
    command = [*LOCAL_PIPELINE]
    command += ["--functions", "process", "--workers", "1", "--out", str(tmp_path / "out")]
    done = subprocess.run(
        [*command, str(image)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "REPORT RequestId:" in done.stderr  # the functions ran behind the Runtime API
    (rendition,) = (tmp_path / "out").glob("*.jpg")
    with Image.open(rendition) as saved:
        assert saved.size == (500, 375)
