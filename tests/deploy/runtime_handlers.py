"""Handlers used only by the Runtime API tests (run by awslambdaric in a subprocess)."""

from __future__ import annotations

import time
from typing import Any


def fail(event: dict[str, Any], context: Any) -> None:
    """Raise, so the client reports a handler error in Lambda's format."""
    expected = event.get("expected", "?")
    msg = f"expected {expected} records, got none"
    raise ValueError(msg)


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The event back, with what the context says."""
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "function_arn": context.invoked_function_arn,
        "function_name": context.function_name,
        "memory_limit_in_mb": context.memory_limit_in_mb,  # from the environment
        "remaining_ms": context.get_remaining_time_in_millis(),
    }


def sleep(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Sleep ``event["seconds"]``, then answer (a timeout when longer than the function's)."""
    time.sleep(float(event["seconds"]))
    return {"slept_s": event["seconds"]}


def allocate(event: dict[str, Any], context: Any) -> dict[str, int]:
    """Allocate ``event["mb"]`` MB and touch it (over the memory limit: MemoryError)."""
    block = bytearray(int(event["mb"]) * 1024 * 1024)
    block[::4096] = b"x" * len(block[::4096])
    return {"allocated_mb": len(block) // (1024 * 1024)}


def partial_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """An SQS handler failing the records whose body is ``bad``; ``crash`` raises."""
    bodies = [record["body"] for record in event["Records"]]
    if "crash" in bodies:
        msg = "a crash in the batch"
        raise RuntimeError(msg)
    return {
        "batchItemFailures": [
            {"itemIdentifier": record["messageId"]}
            for record in event["Records"]
            if record["body"] == "bad"
        ]
    }
