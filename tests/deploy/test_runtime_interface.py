"""The Lambda Runtime API of deploy.local.lambda_service: its contract over raw HTTP, and
``python -m awslambdaric HANDLER`` (the image's ENTRYPOINT + CMD) as an external instance
against it: one invocation completes, errors and init errors arrive in Lambda's format."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from deploy.local.lambda_service import FunctionConfig, InvocationResult, LambdaFunction
from tests.deploy.conftest import PROJECT_ROOT

pytest.importorskip("awslambdaric")

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:image-pipeline-resize"
NEXT = "/2018-06-01/runtime/invocation/next"
TRACE_ID = re.compile(r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$")


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
def external_function(name: str = "resize", timeout_s: float = 30.0) -> Iterator[LambdaFunction]:
    """A function whose instances are started by the test (external), Runtime API on a free
    loopback port."""
    function = LambdaFunction(
        FunctionConfig(name, external=True, timeout_s=timeout_s, runtime_api=("127.0.0.1", 0))
    )
    function.start()
    try:
        yield function
    finally:
        function.stop()


@contextmanager
def ric(handler: str, runtime_api: str) -> Iterator[subprocess.Popen[str]]:
    """Run the image's entry point for ``handler`` in a subprocess; kill it afterwards."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env.update(
        AWS_LAMBDA_RUNTIME_API=runtime_api,
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


def invoke_in_thread(function: LambdaFunction, event: Any) -> tuple[threading.Thread, list[Any]]:
    """Start ``function.invoke(event)`` in a thread; the list receives its result."""
    results: list[InvocationResult] = []
    thread = threading.Thread(target=lambda: results.append(function.invoke(event)))
    thread.start()
    return thread, results


def runtime_call(
    address: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request to the Runtime API as a runtime makes it: (status, headers, body)."""
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        payload = None if body is None else json.dumps(body).encode()
        connection.request(method, path, payload, headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


# ------------------------------------------------------------- the contract, raw HTTP


def test_next_carries_the_event_and_lambdas_headers_and_response_completes_the_invoke() -> None:
    event = {"Records": [sqs_record("m-1", "hello")]}
    with external_function("resize", timeout_s=7) as function:
        assert function.runtime_api is not None
        thread, results = invoke_in_thread(function, event)
        before_ms = time.time() * 1000
        status, headers, body = runtime_call(function.runtime_api, "GET", NEXT)
        assert status == 200
        assert json.loads(body) == event
        request_id = headers["Lambda-Runtime-Aws-Request-Id"]
        assert re.fullmatch(r"[0-9a-f-]{36}", request_id)
        deadline_ms = int(headers["Lambda-Runtime-Deadline-Ms"])
        assert before_ms + 6000 < deadline_ms <= time.time() * 1000 + 7000  # now + 7 s timeout
        assert (
            headers["Lambda-Runtime-Invoked-Function-Arn"]
            == "arn:aws:lambda:us-east-1:123456789012:function:resize"
        )
        assert TRACE_ID.match(headers["Lambda-Runtime-Trace-Id"])

        status, _, reply = runtime_call(
            function.runtime_api,
            "POST",
            f"/2018-06-01/runtime/invocation/{request_id}/response",
            {"batchItemFailures": []},
        )
        assert status == 202 and json.loads(reply) == {"status": "OK"}
        thread.join(10)

        # the same id again, or one never handed out: Lambda's InvalidRequestID
        status, _, reply = runtime_call(
            function.runtime_api,
            "POST",
            f"/2018-06-01/runtime/invocation/{request_id}/response",
            {},
        )
        assert status == 400 and json.loads(reply)["errorType"] == "InvalidRequestID"

    (result,) = results
    assert (result.ok, result.request_id) == (True, request_id)
    assert result.payload == {"batchItemFailures": []}


def test_error_post_fails_the_invoke_with_the_runtimes_error_object() -> None:
    error = {"errorMessage": "boom", "errorType": "KeyError", "stackTrace": ["  File x"]}
    with external_function() as function:
        assert function.runtime_api is not None
        thread, results = invoke_in_thread(function, {"n": 1})
        _, headers, _ = runtime_call(function.runtime_api, "GET", NEXT)
        request_id = headers["Lambda-Runtime-Aws-Request-Id"]
        status, _, _ = runtime_call(
            function.runtime_api,
            "POST",
            f"/2018-06-01/runtime/invocation/{request_id}/error",
            error,
            {"Lambda-Runtime-Function-Error-Type": "KeyError"},
        )
        assert status == 202
        thread.join(10)
    (result,) = results
    assert (result.status, result.error_type, result.payload) == ("error", "KeyError", error)


def test_init_error_post_fails_the_waiting_invoke() -> None:
    error = {
        "errorMessage": "Unable to import module 'x'",
        "errorType": "Runtime.ImportModuleError",
    }
    with external_function() as function:
        assert function.runtime_api is not None
        thread, results = invoke_in_thread(function, {"n": 1})
        time.sleep(0.2)  # queued
        status, _, _ = runtime_call(
            function.runtime_api, "POST", "/2018-06-01/runtime/init/error", error
        )
        assert status == 202
        thread.join(10)
    (result,) = results
    assert (result.status, result.error_type, result.payload) == (
        "init_error",
        "Runtime.ImportModuleError",
        error,
    )


def test_external_timeout_is_lambdas_timeout_error_and_the_late_reply_is_accepted() -> None:
    with external_function(timeout_s=0.5) as function:
        assert function.runtime_api is not None
        thread, results = invoke_in_thread(function, {"n": 1})
        _, headers, _ = runtime_call(function.runtime_api, "GET", NEXT)
        request_id = headers["Lambda-Runtime-Aws-Request-Id"]
        thread.join(10)
        (result,) = results
        assert result.status == "timeout"
        assert result.payload == {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"RequestId: {request_id} Error: Task timed out after 0.50 seconds",
        }
        # the instance (which Lambda would have stopped) answers late: dropped, not an error
        status, _, _ = runtime_call(
            function.runtime_api,
            "POST",
            f"/2018-06-01/runtime/invocation/{request_id}/response",
            {},
        )
        assert status == 202


# ------------------------------------------------------------- awslambdaric against it


def test_resize_handler_completes_one_invocation() -> None:
    event = {
        "Records": [sqs_record("m-test-event", S3_TEST_EVENT), sqs_record("m-garbled", "not json")]
    }
    with external_function() as function:
        assert function.runtime_api is not None
        with ric("handlers.resize.handler", function.runtime_api) as process:
            result = function.invoke(event)
            assert process.poll() is None  # waiting for the next event
    assert result.ok, result.payload
    # a test event is ignored, a message that can never parse is acknowledged (logged, counted)
    assert result.payload == {"batchItemFailures": []}


def test_handler_context_is_built_from_the_runtime_api_headers() -> None:
    with external_function("echo", timeout_s=20) as function:
        assert function.runtime_api is not None
        with ric("tests.deploy.runtime_handlers.echo", function.runtime_api):
            result = function.invoke({"a": [1, "b"]})
    assert result.ok, result.payload
    assert result.payload["event"] == {"a": [1, "b"]}
    assert result.payload["request_id"] == result.request_id
    assert result.payload["function_arn"].endswith(":function:echo")
    assert 15_000 < result.payload["remaining_ms"] <= 20_000


def test_handler_error_is_reported_in_lambda_error_format() -> None:
    with external_function() as function:
        assert function.runtime_api is not None
        with ric("tests.deploy.runtime_handlers.fail", function.runtime_api):
            result = function.invoke({"expected": 3})

    assert result.status == "error"
    assert result.payload["errorType"] == "ValueError"
    assert result.payload["errorMessage"] == "expected 3 records, got none"
    assert any("runtime_handlers.py" in line for line in result.payload["stackTrace"])
    cause = json.loads(result.headers["lambda-runtime-function-xray-error-cause"])
    assert cause["exceptions"][0]["type"] == "ValueError"


def test_missing_handler_module_is_an_init_error() -> None:
    with external_function() as function:
        assert function.runtime_api is not None
        thread, results = invoke_in_thread(function, {"n": 1})
        with ric("handlers.no_such_module.handler", function.runtime_api) as process:
            assert process.wait(timeout=30) == 1
        thread.join(10)

    (result,) = results
    assert result.status == "init_error"
    assert result.payload["errorType"] == "Runtime.ImportModuleError"
    assert "handlers.no_such_module" in result.payload["errorMessage"]
