"""Reprocess through the local queue: 200 images after the longest side changes (issue 11).

The emulator, the pipeline's resources and the real resize handler behind the SQS
dispatcher, in this process: 200 JPEGs are put straight into the uploads bucket and
processed at 500 px; the resize function is then rewired with 300 px (as a redeploy with a
new ``MAX_DIMENSION`` would) and ``deploy.local.reprocess`` brings every image up to date;
a second reprocess does no work.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from PIL import Image
from rich.console import Console

from deploy.aws.reprocess import current_version
from deploy.local.dispatcher import SqsDispatcher
from deploy.local.reprocess import run_reprocess
from deploy.local.resources import PipelineResources, ensure_resources
from deploy.reprocess_targets import Selection
from handlers import bootstrap, resize
from handlers.config import ResizeSettings
from handlers.dynamo_store import from_dynamo
from tests.e2e.conftest import wait_until

COUNT = 200


def jpeg(n: int) -> bytes:
    image = Image.new("RGB", (640, 480), (n % 256, 80, 160))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


@pytest.fixture
def local(emulator: str) -> Iterator[dict[str, Any]]:
    suffix = uuid.uuid4().hex[:8]
    resources = ensure_resources(
        uploads_bucket=f"up-{suffix}",
        processed_bucket=f"out-{suffix}",
        table=f"meta-{suffix}",
        queue=f"events-{suffix}",
        region="us-east-1",
        endpoint_url=emulator,
        visibility_timeout_s=30,
    )
    clients = {
        name: boto3.client(name, endpoint_url=emulator, region_name="us-east-1")
        for name in ("s3", "sqs", "dynamodb")
    }
    dispatcher = SqsDispatcher(
        resources.queue_url, resize.handler, sqs=clients["sqs"], wait_time_s=1
    )
    rewire(emulator, resources, max_dim=500)
    dispatcher.start(2)  # two pollers (log keys may mix between them; outcomes do not)
    try:
        yield {"endpoint": emulator, "resources": resources, **clients}
    finally:
        dispatcher.stop()
        bootstrap.reset()


def rewire(endpoint: str, resources: PipelineResources, *, max_dim: int) -> ResizeSettings:
    """Install the resize function's dependencies with ``max_dim`` (a redeploy)."""
    settings = ResizeSettings(
        metadata_table=resources.table,
        processed_bucket=resources.processed_bucket,
        uploads_bucket=resources.uploads_bucket,
        region="us-east-1",
        max_dim_px=max_dim,
    )
    access = bootstrap.AwsAccess(endpoint, access_key_id="x", secret_access_key="x")
    bootstrap.install("resize", bootstrap.build(settings, access))
    return settings


def items(local: dict[str, Any]) -> list[dict[str, Any]]:
    pages = local["dynamodb"].get_paginator("scan").paginate(TableName=local["resources"].table)
    return [from_dynamo(i) for page in pages for i in page["Items"]]


def rendition_sizes(local: dict[str, Any]) -> set[tuple[int, int]]:
    out = set()
    bucket = local["resources"].processed_bucket
    for page in local["s3"].get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            body = local["s3"].get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            out.add(Image.open(io.BytesIO(body)).size)
    return out


def test_reprocess_200_images_after_the_max_dimension_changes_then_nothing_twice(
    local: dict[str, Any],
) -> None:
    resources = local["resources"]
    for n in range(COUNT):
        local["s3"].put_object(
            Bucket=resources.uploads_bucket, Key=f"set/{n:03d}.jpg", Body=jpeg(n)
        )
    wait_until(lambda: sum(i.get("status") == "processed" for i in items(local)) == COUNT, 120, 0.5)
    assert rendition_sizes(local) == {(500, 375)}
    old_version = {i["pipeline_version"] for i in items(local)}

    rewire(local["endpoint"], resources, max_dim=300)
    selection = Selection("older", version=current_version(300))
    quiet = Console(file=io.StringIO())
    common = {
        "sqs": local["sqs"],
        "s3": local["s3"],
        "dynamodb": local["dynamodb"],
        "queue_url": resources.queue_url,
        "uploads_bucket": resources.uploads_bucket,
        "table": resources.table,
        "rate_per_s": 1000.0,
        "console": quiet,
    }

    first = run_reprocess(selection, **common)

    assert (first.sent, first.redone, first.unchanged) == (COUNT, COUNT, 0)
    assert first.statuses == {"processed": COUNT}
    assert rendition_sizes(local) == {(300, 225)}
    versions = {i["pipeline_version"] for i in items(local)}
    assert versions == {current_version(300)} and versions != old_version
    assert "reprocessing" in quiet.file.getvalue()  # the progress bar  # type: ignore[attr-defined]

    again = run_reprocess(selection, **common)  # nothing is older any more
    forced = run_reprocess(Selection("prefix", prefix="set/01"), **common)  # 10 sent anyway

    assert again.sent == 0
    assert (forced.sent, forced.redone, forced.unchanged) == (10, 0, 10)  # all duplicates
    assert rendition_sizes(local) == {(300, 225)}
    print(f"\nlocal reprocess: {first.rate:.1f} images/s ({COUNT} images of 640x480)")
