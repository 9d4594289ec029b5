"""The compose pipeline (docker-compose.yml as it is) for the integration tests.

Where it comes from, first that works:

1. ``COMPOSE_STACK=running``: someone already started it (``docker compose up``, or the
   lab's ``compose-up`` with the tests under ``lab-exec``); the tests only talk to it.
2. A Docker engine with the compose plugin: testcontainers' ``DockerCompose`` runs
   ``docker compose up --build --wait`` and ``down`` afterwards.
3. The container lab (podman, no Docker engine; ../shared/container-lab): its
   ``compose-up`` runs the same file in a loopback-only network namespace and
   ``compose-down`` stops it. Each test runs its network calls inside that namespace
   (:func:`tests.container.lab.in_namespace`), so ``localhost:8080`` and
   ``localhost:4566`` are the stack's, as for a Docker user.

Otherwise the tests skip, and say why for each way.

The tests talk to LocalStack the way its users do: ``localstack_client`` sessions
(``localhost:4566``, its dummy credentials).
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.container import lab

PROJECT_ROOT = Path(__file__).resolve().parents[2]
API_URL = "http://localhost:8080"
LOCALSTACK_HOST = "localhost:4566"
SERVICES = ("image-pipeline-lambda-1", "image-pipeline-resize-1", "image-pipeline-api-1")


@dataclass
class Stack:
    """A running compose pipeline: where to reach it and how.

    ``network()``: a context in which this thread's sockets reach the stack's
    ``localhost`` (the lab's namespace; nothing elsewhere). ``logs()``: the services'
    recent logs, for failure messages.
    """

    how: str
    network: Callable[[], AbstractContextManager[Any]]
    logs: Callable[[], str]
    api_url: str = API_URL
    localstack_host: str = LOCALSTACK_HOST

    def session(self) -> Any:
        """A ``localstack_client`` session for LocalStack's S3, SQS and DynamoDB."""
        import localstack_client.session  # type: ignore[import-untyped]

        return localstack_client.session.Session(localstack_host=self.localstack_host)


def docker_compose_unavailable() -> str | None:
    """Why ``docker compose`` cannot run here, or None."""
    reason = lab.docker_unavailable()
    if reason:
        return reason
    done = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if done.returncode != 0:
        return "the docker compose plugin is missing"
    return None


def wait_for_api(api_url: str, timeout_s: float = 120) -> None:
    """Until ``GET /images`` answers 200 (the API function is up behind the front)."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{api_url}/images", timeout=10) as response:
                if response.status == 200:
                    return
                last = response.status
        except OSError as e:
            last = e
        time.sleep(1)
    pytest.fail(f"the API at {api_url} did not answer within {timeout_s:.0f} s: {last}")


def _docker_stack() -> Iterator[Stack]:
    from testcontainers.compose import DockerCompose

    compose = DockerCompose(PROJECT_ROOT, compose_file_name="docker-compose.yml", build=True)
    compose.start()
    try:

        def logs() -> str:
            out, err = compose.get_logs()
            return (out + err)[-6000:]

        stack = Stack("docker compose (testcontainers)", nullcontext, logs)
        wait_for_api(stack.api_url)
        yield stack
    finally:
        compose.stop()


def _lab_stack() -> Iterator[Stack]:
    up = lab.lab_script("compose-up", "-f", str(PROJECT_ROOT / "docker-compose.yml"))
    try:
        if up.returncode != 0:
            pytest.fail(f"compose-up failed:\n{up.stderr[-4000:]}")
        pid = lab.namespace_pid()
        assert pid is not None, "compose-up left no namespace"
        stack = Stack(
            "the container lab's compose-up (podman, loopback-only namespace)",
            lambda: lab.in_namespace(pid),
            lambda: lab.container_logs(SERVICES),
        )
        with stack.network():
            wait_for_api(stack.api_url)
        yield stack
    finally:
        down = lab.lab_script("compose-down")
        if down.returncode != 0:
            print(f"compose-down failed:\n{down.stderr[-2000:]}")


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """The running compose pipeline (see the module docstring for where it comes from)."""
    if os.environ.get("COMPOSE_STACK") == "running":
        yield Stack("already running (COMPOSE_STACK=running)", nullcontext, lambda: "")
        return
    docker_reason = docker_compose_unavailable()
    if docker_reason is None:
        yield from _docker_stack()
        return
    lab_reason = lab.lab_unavailable() or lab.localstack_unavailable()
    if lab_reason is None:
        yield from _lab_stack()
        return
    pytest.skip(
        f"compose pipeline: Docker: {docker_reason}; container lab: {lab_reason}",
    )


@pytest.fixture
def net(stack: Stack) -> Iterator[Stack]:
    """``stack``, with this test's network calls made where the stack's localhost is."""
    with stack.network():
        yield stack
