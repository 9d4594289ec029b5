"""``python -m awslambdaric HANDLER`` (the image's ENTRYPOINT + CMD) against a stand-in of
the Lambda Runtime API: one invocation completes, errors arrive in Lambda's format."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.deploy.conftest import PROJECT_ROOT
from tests.deploy.runtime_api import RuntimeApi

pytest.importorskip("awslambdaric")

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:image-pipeline-resize"


def sqs_record(message_id: str, body: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1767225600000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1767225600001",
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
    }


# What S3 sends when a notification is configured, and a body that is not an
# S3 notification: the handler settles both without calling AWS.
S3_TEST_EVENT = json.dumps(
    {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2026-01-01T00:00:00.000Z",
        "Bucket": "uploads",
        "RequestId": "r",
        "HostId": "h",
    }
)


@contextmanager
def ric(handler: str, api: RuntimeApi) -> Iterator[subprocess.Popen[str]]:
    """Run the image's entry point for ``handler`` in a subprocess; kill it afterwards."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env.update(
        AWS_LAMBDA_RUNTIME_API=api.address,
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_ENDPOINT_URL="http://127.0.0.1:9",  # nothing listens: any AWS call would fail
        METADATA_TABLE="image-pipeline-metadata",
        PROCESSED_BUCKET="processed",
        UPLOADS_BUCKET="uploads",
        PYTHONPATH=str(PROJECT_ROOT),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "awslambdaric", handler],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)


def test_resize_handler_completes_one_invocation() -> None:
    event = {
        "Records": [sqs_record("m-test-event", S3_TEST_EVENT), sqs_record("m-garbled", "not json")]
    }
    with RuntimeApi() as api:
        api.invoke("req-1", event)
        with ric("handlers.resize.handler", api) as process:
            # the response, then the client asks for the next event (held open)
            done = api.wait_for(posts=1, next_calls=2)
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
        assert done, f"posted: {api.state.posted}"

    (posted,) = api.state.posted
    assert (posted.kind, posted.request_id) == ("response", "req-1")
    # a test event is ignored, a message that can never parse is acknowledged (logged, counted)
    assert posted.body == {"batchItemFailures": []}


def test_handler_error_is_reported_in_lambda_error_format() -> None:
    with RuntimeApi() as api:
        api.invoke("req-err", {"expected": 3})
        with ric("tests.deploy.runtime_handlers.fail", api):
            done = api.wait_for(posts=1, next_calls=2)
        assert done, f"posted: {api.state.posted}"

    (posted,) = api.state.posted
    assert (posted.kind, posted.request_id) == ("error", "req-err")
    assert posted.body["errorType"] == "ValueError"
    assert posted.body["errorMessage"] == "expected 3 records, got none"
    assert any("runtime_handlers.py" in line for line in posted.body["stackTrace"])
    cause = json.loads(posted.headers["lambda-runtime-function-xray-error-cause"])
    assert cause["exceptions"][0]["type"] == "ValueError"


def test_missing_handler_module_is_an_init_error() -> None:
    with RuntimeApi() as api, ric("handlers.no_such_module.handler", api) as process:
        assert api.wait_for(posts=1)
        assert process.wait(timeout=30) == 1

    (posted,) = api.state.posted
    assert posted.kind == "init_error"
    assert posted.body["errorType"] == "Runtime.ImportModuleError"
    assert "handlers.no_such_module" in posted.body["errorMessage"]
