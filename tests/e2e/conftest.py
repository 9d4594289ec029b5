"""Fixtures for the end-to-end tests: the local pipeline over real HTTP on loopback.

``pipeline``: ``python -m deploy.local --api-port 0 --emulator-port 0`` started once per
session as a subprocess; the fixture reads its JSON ready line (Contract 4) and yields it as
a dict, plus ``queue_url``. Its stderr (the journey log) goes to
``test-artifacts/local-pipeline.log``. ``emulator``: a bare in-process emulator for the
dispatcher and HTTP front tests that use stand-in handlers.
"""

from __future__ import annotations

import io
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
READY_TIMEOUT_S = 60
LOCAL_PIPELINE = (sys.executable, "-m", "deploy.local", "--api-port", "0", "--emulator-port", "0")
"""``python -m deploy.local`` on free ports: the command line every test extends."""
VISIBILITY_TIMEOUT_S = 5


def read_ready_line(process: subprocess.Popen[str], timeout_s: float) -> dict[str, Any]:
    """The first stdout line of a starting ``deploy.local``, parsed; fails on timeout/exit."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put("")

    threading.Thread(target=pump, daemon=True).start()
    try:
        first = lines.get(timeout=timeout_s)
    except queue.Empty:
        process.kill()
        pytest.fail(f"deploy.local printed no ready line within {timeout_s} s")
    if not first:
        pytest.fail(f"deploy.local exited with {process.wait()} before its ready line")
    return json.loads(first)


@pytest.fixture(scope="session")
def pipeline() -> Iterator[dict[str, Any]]:
    """The running local pipeline: its ready line as a dict, plus ``queue_url``."""
    yield from local_pipeline([], {}, "local-pipeline.log")


def local_pipeline(
    extra_args: list[str], extra_env: dict[str, str], log_name: str
) -> Iterator[dict[str, Any]]:
    """Run ``deploy.local`` (free ports, ``extra_args``, ``extra_env``) and yield its ready
    line plus ``queue_url``; stop it with SIGTERM and check it stopped cleanly."""
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / log_name
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **extra_env}
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [
                *LOCAL_PIPELINE,
                "--visibility-timeout",
                str(VISIBILITY_TIMEOUT_S),
                *extra_args,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            ready = read_ready_line(process, READY_TIMEOUT_S)
            sqs = boto3.client(
                "sqs", endpoint_url=ready["endpoint_url"], region_name=ready["region"]
            )
            ready["queue_url"] = sqs.get_queue_url(QueueName="image-uploads-events")["QueueUrl"]
            yield ready
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                code = None
    assert code == 0, f"deploy.local did not stop cleanly on SIGTERM (exit {code}), see {log_path}"


def aws_client(ready: dict[str, Any], service: str) -> Any:
    """A boto3 client for ``service`` against the pipeline's emulator."""
    return boto3.client(service, endpoint_url=ready["endpoint_url"], region_name=ready["region"])


@pytest.fixture(scope="session")
def s3(pipeline: dict[str, Any]) -> Any:
    return aws_client(pipeline, "s3")


@pytest.fixture(scope="session")
def dynamodb(pipeline: dict[str, Any]) -> Any:
    return aws_client(pipeline, "dynamodb")


@pytest.fixture(scope="session")
def sqs(pipeline: dict[str, Any]) -> Any:
    return aws_client(pipeline, "sqs")


def quadrant_jpeg(size: tuple[int, int] = (1600, 1200), quality: int = 92) -> bytes:
    """A JPEG with four solid quadrants: red, green / blue, white (top-left first)."""
    width, height = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width // 2 - 1, height // 2 - 1), fill=(255, 0, 0))
    draw.rectangle((width // 2, 0, width - 1, height // 2 - 1), fill=(0, 255, 0))
    draw.rectangle((0, height // 2, width // 2 - 1, height - 1), fill=(0, 0, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def wait_until(check: Any, timeout_s: float, interval_s: float = 0.1) -> Any:
    """Call ``check()`` until it returns something truthy; return it, or fail on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout_s} s")
        time.sleep(interval_s)


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    """A bare in-process AWS emulator on a free port; yields its endpoint URL."""
    from deploy.local.emulator import Emulator

    with Emulator(port=0) as running:
        yield running.endpoint_url


def count_calls(action: Callable[[], object]) -> int:
    """Python and C function calls ``action()`` makes (a cost measure that does not depend
    on the machine's speed or load, for tests that pin how a cost grows)."""
    calls = 0

    def count(_frame: Any, event: str, _arg: Any) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    sys.setprofile(count)
    try:
        action()
    finally:
        sys.setprofile(None)
    return calls
