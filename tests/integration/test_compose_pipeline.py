"""The docker compose pipeline (LocalStack + the project image) end to end:
upload -> S3 -> SQS -> resize worker -> processed bucket + metadata item.

Needs a Docker engine with the compose plugin and the ability to pull
localstack/localstack:4.14.0; skipped otherwise. The same flow runs without Docker in
tests/e2e (the embedded runner), so these are not the only end-to-end tests.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

PROJECT_ROOT = Path(__file__).resolve().parents[2]
API_URL = "http://127.0.0.1:8080"
ENDPOINT_URL = "http://127.0.0.1:4566"
PROCESSED_BUCKET = "image-pipeline-processed"
UPLOADS_BUCKET = "image-pipeline-uploads"
TABLE = "image-pipeline-metadata"

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]


def docker_unavailable() -> str | None:
    """Why the compose tests cannot run here, or ``None`` when they can."""
    if shutil.which("docker") is None:
        return "no docker command on PATH"
    try:
        import docker  # the Docker SDK (a dev dependency)

        docker.from_env().ping()
    except Exception as e:
        return f"no Docker engine reachable: {type(e).__name__}: {e}"
    done = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if done.returncode != 0:
        return "the docker compose plugin is missing"
    return None


def compose(*args: str, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "compose", "-f", str(PROJECT_ROOT / "docker-compose.yml"), *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@pytest.fixture(scope="module")
def pipeline() -> Iterator[None]:
    reason = docker_unavailable()
    if reason:
        pytest.skip(f"docker compose pipeline: {reason}")
    up = compose("up", "--build", "--detach", "--wait", "--wait-timeout", "300")
    try:
        if up.returncode != 0:
            logs = compose("logs", "--no-color", "--tail", "80").stdout
            pytest.fail(f"docker compose up failed:\n{up.stderr[-3000:]}\n{logs[-5000:]}")
        wait_for_api()
        yield
    finally:
        compose("down", "--volumes", "--remove-orphans", timeout_s=180)


def wait_for_api(timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{API_URL}/images", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    pytest.fail(f"the API at {API_URL} did not answer within {timeout_s} s")


def request(
    method: str, path: str, body: bytes | None = None, content_type: str | None = None
) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(f"{API_URL}{path}", data=body, method=method)
    if content_type:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def jpeg(size: tuple[int, int]) -> bytes:
    """A JPEG whose left half is red and right half blue, ``size`` = (width, height)."""
    image = Image.new("RGB", size, (255, 0, 0))
    image.paste((0, 0, 255), (size[0] // 2, 0, size[0], size[1]))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def wait_until_settled(image_id: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    item: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status, item = request("GET", f"/images/{image_id}")
        if status == 200 and item.get("status") not in (None, "pending"):
            return item
        time.sleep(1)
    pytest.fail(f"image {image_id} still not processed after {timeout_s} s: {item}")


def aws_client(service: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=ENDPOINT_URL,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def test_api_upload_is_resized_and_recorded(pipeline: None) -> None:
    status, created = request("POST", "/images", jpeg((1600, 1200)), "image/jpeg")
    assert status == 202, created

    item = wait_until_settled(created["image_id"])

    assert item["status"] == "processed", item
    assert (item["processed_width"], item["processed_height"]) == (500, 375)
    rendition = (
        aws_client("s3")
        .get_object(Bucket=item["processed_bucket"], Key=item["processed_key"])["Body"]
        .read()
    )
    with Image.open(io.BytesIO(rendition)) as image:
        assert image.size == (500, 375)
        left, right = image.getpixel((10, 187)), image.getpixel((490, 187))
    assert left[0] > 200 and left[2] < 60  # still red on the left
    assert right[2] > 200 and right[0] < 60  # and blue on the right


def test_direct_s3_upload_triggers_the_worker(pipeline: None) -> None:
    s3 = aws_client("s3")
    s3.put_object(Bucket=UPLOADS_BUCKET, Key="direct/photo one.jpg", Body=jpeg((800, 400)))
    table = aws_client("dynamodb")
    deadline = time.monotonic() + 120
    items: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not items:
        items = [
            i
            for i in table.scan(TableName=TABLE)["Items"]
            if i["source_key"]["S"] == "direct/photo one.jpg" and i["status"]["S"] == "processed"
        ]
        time.sleep(1)
    assert items, "no processed item for the direct upload"
    assert int(items[0]["processed_width"]["N"]) == 500
    assert int(items[0]["processed_height"]["N"]) == 250
