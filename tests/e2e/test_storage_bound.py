"""The embedded pipeline's memory bound: the emulator refuses new uploads past a stored size.

Everything the emulator holds is in this process's memory. Past the bound, direct puts and
presigned POSTs into the guarded (uploads) bucket get S3's XML error 507
``InsufficientStorage``; other buckets (the renditions of accepted uploads) are still
written. The runner's HTTP front asks the same bound before ``POST /images`` and
``POST /uploads`` (tests/e2e/test_http_front_bounds.py, and the runner below).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from deploy.local.emulator import Emulator, StorageBound, stored_bytes
from tests.e2e.conftest import LOCAL_PIPELINE, ROOT, quadrant_jpeg, read_ready_line


@pytest.fixture
def bounded() -> Iterator[tuple[str, StorageBound]]:
    """An emulator whose "uploads" bucket takes new objects until 1,000 more bytes are stored."""
    bound = StorageBound(stored_bytes() + 1000, ["uploads"], setting="--max-stored-mb")
    with Emulator(port=0, storage_bound=bound) as running:
        yield running.endpoint_url, bound


def test_puts_into_the_guarded_bucket_are_refused_past_the_bound(
    bounded: tuple[str, StorageBound],
) -> None:
    endpoint_url, bound = bounded
    s3 = boto3.client("s3", endpoint_url=endpoint_url, region_name="us-east-1")
    s3.create_bucket(Bucket="uploads")
    s3.create_bucket(Bucket="renditions")
    before = stored_bytes()

    s3.put_object(Bucket="uploads", Key="a", Body=b"a" * 600)
    s3.put_object(Bucket="uploads", Key="b", Body=b"b" * 600)  # under the bound when it came
    assert stored_bytes() == before + 1200
    assert bound.refusal() is not None

    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket="uploads", Key="c", Body=b"c")
    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 507
    assert error["Error"]["Code"] == "InsufficientStorage"
    assert "keeps everything in memory" in error["Error"]["Message"]
    assert "(--max-stored-mb)" in error["Error"]["Message"]
    assert error["ResponseMetadata"]["RetryAttempts"] == 0  # a 507 is not retried
    s3.put_object(Bucket="renditions", Key="rendition", Body=b"r" * 10)  # other buckets: written
    assert s3.get_object(Bucket="uploads", Key="a")["Body"].read() == b"a" * 600  # reads: fine

    post = s3.generate_presigned_post("uploads", "via-post")
    sent = requests.post(post["url"], data=post["fields"], files={"file": b"x"}, timeout=10)
    assert sent.status_code == 507 and b"<Code>InsufficientStorage</Code>" in sent.content
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="uploads")["Contents"]]
    assert keys == ["a", "b"]


def test_the_runner_refuses_uploads_past_max_stored_mb(tmp_path: Path) -> None:
    """``--max-stored-mb 1``: a 1.2 MB upload is taken, the next one is 507."""
    process = subprocess.Popen(
        [
            *LOCAL_PIPELINE,
            "--max-stored-mb",
            "1",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = read_ready_line(process, 60)
        photo = quadrant_jpeg((1600, 1200), quality=100)
        while len(photo) < 1_000_000:
            photo += photo[-2:]  # bytes after EOI are ignored by decoders, counted by S3
        first = requests.post(
            f"{ready['api_url']}/images", files={"file": ("a.jpg", photo)}, timeout=30
        )
        second = requests.post(
            f"{ready['api_url']}/images", files={"file": ("b.jpg", photo)}, timeout=30
        )
        grant = requests.post(f"{ready['api_url']}/uploads", json={}, timeout=30)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert first.status_code == 202, first.text
    assert second.status_code == grant.status_code == 507
    error = second.json()["error"]
    assert error["code"] == "insufficient_storage"
    assert "(--max-stored-mb 1)" in error["message"]
    assert json.loads(grant.text)["error"] == error
    assert "everything lives in memory" in " ".join(stderr.split())  # the banner says so
