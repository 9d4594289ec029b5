"""Function instances as ``python -m awslambdaric HANDLER`` processes
(deploy.local.lambda_service, process mode): errors, init errors with back-off, timeouts that
kill and replace the instance, the memory limit, and Lambda's REPORT lines."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from deploy.local.lambda_service import FunctionConfig, FunctionError, LambdaFunction
from deploy.local.lambda_service.instances import backoff_s, exit_description

pytest.importorskip("awslambdaric")

HANDLERS = "tests.deploy.runtime_handlers"


@contextmanager
def process_function(handler: str, **config: object) -> Iterator[LambdaFunction]:
    """A started function with process instances running ``handler``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    function = LambdaFunction(
        FunctionConfig("probe", handler=handler, environ=environ, **config)  # type: ignore[arg-type]
    )
    function.start()
    try:
        yield function
    finally:
        function.stop()


def test_response_context_and_report_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="lambda.probe")
    with process_function(f"{HANDLERS}.echo", memory_mb=768, timeout_s=20) as function:
        first = function.invoke({"n": 1})
        second = function.invoke({"n": 2})
        (instance,) = function.instances
        pid = instance.process.pid if instance.process else None

    assert first.ok and second.ok, (first.payload, second.payload)
    assert first.payload["event"] == {"n": 1}
    assert first.payload["request_id"] == first.request_id
    assert first.payload["function_name"] == "probe"
    assert first.payload["memory_limit_in_mb"] == "768"  # AWS_LAMBDA_FUNCTION_MEMORY_SIZE
    assert 15_000 < first.payload["remaining_ms"] <= 20_000
    # cold start: the first invocation of an instance carries its init duration, once
    assert first.init_duration_ms is not None and 10 < first.init_duration_ms < 30_000
    assert second.init_duration_ms is None
    assert pid is not None

    reports = [r.getMessage() for r in caplog.records if r.getMessage().startswith("REPORT")]
    assert len(reports) == 2
    pattern = (
        r"REPORT RequestId: {id}\tDuration: [0-9.]+ ms\tBilled Duration: (\d+) ms\t"
        r"Memory Size: 768 MB\tMax Memory Used: (\d+) MB{init}"
    )
    cold = re.fullmatch(
        pattern.format(id=first.request_id, init=r"\tInit Duration: ([0-9.]+) ms"), reports[0]
    )
    warm = re.fullmatch(pattern.format(id=second.request_id, init=""), reports[1])
    assert cold and warm, reports
    # a container image bills its init: billed >= duration + init, rounded up
    assert int(cold.group(1)) >= first.duration_ms + first.init_duration_ms
    assert 5 < int(cold.group(2)) < 768


def test_handler_error_is_lambdas_error_shape_and_the_instance_stays() -> None:
    with process_function(f"{HANDLERS}.fail") as function:
        result = function.invoke({"expected": 2})
        with pytest.raises(FunctionError, match="ValueError: expected 5 records"):
            function.call({"expected": 5})
        (instance,) = function.instances
        assert instance.starts == 1  # an error is not a crash
    assert result.status == "error"
    assert result.payload["errorType"] == "ValueError"
    assert result.payload["errorMessage"] == "expected 2 records, got none"
    assert result.payload["requestId"] == result.request_id
    assert any("runtime_handlers.py" in line for line in result.payload["stackTrace"])


def test_bad_handler_name_is_an_init_error_and_the_instance_restarts_with_backoff() -> None:
    with process_function("handlers.no_such_module.handler") as function:
        first = function.invoke({})
        second = function.invoke({})
        (instance,) = function.instances
        starts = instance.starts
    for result in (first, second):
        assert result.status == "init_error"
        assert result.payload["errorType"] == "Runtime.ImportModuleError"
        assert "No module named 'handlers.no_such_module'" in result.payload["errorMessage"]
    assert starts >= 2
    assert [backoff_s(n) for n in range(6)] == [0.0, 0.5, 1.0, 2.0, 4.0, 8.0]
    assert backoff_s(20) == 10.0


def test_timeout_kills_and_replaces_the_instance(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="lambda.probe")
    with process_function(f"{HANDLERS}.sleep", timeout_s=1.0) as function:
        warm = function.invoke({"seconds": 0})
        (instance,) = function.instances
        assert instance.process is not None
        old = instance.process
        timed_out = function.invoke({"seconds": 30})
        assert old.wait(timeout=5) == -9  # SIGKILL
        after = function.invoke({"seconds": 0.1})
        new_pid = instance.process.pid if instance.process else None

    assert warm.ok
    assert timed_out.status == "timeout"
    message = f"RequestId: {timed_out.request_id} Error: Task timed out after 1.00 seconds"
    assert timed_out.payload == {"errorType": "Sandbox.Timedout", "errorMessage": message}
    assert 1000 <= timed_out.duration_ms < 3000
    assert after.ok and after.payload == {"slept_s": 0.1}
    assert after.init_duration_ms is not None  # a new instance: a cold start
    assert new_pid != old.pid
    (report,) = [r.getMessage() for r in caplog.records if timed_out.request_id in r.getMessage()]
    assert report.endswith("\tStatus: timeout")


def test_memory_limit_fails_an_invocation_that_allocates_beyond_it() -> None:
    with process_function(f"{HANDLERS}.allocate", memory_mb=256) as function:
        small = function.invoke({"mb": 16})
        big = function.invoke({"mb": 400})
    assert small.ok and small.payload == {"allocated_mb": 16}
    assert big.status == "error" and big.payload["errorType"] == "MemoryError"


def test_exit_descriptions_are_lambdas_words() -> None:
    assert exit_description(1) == "exit status 1"
    assert exit_description(-9) == "signal: killed"
