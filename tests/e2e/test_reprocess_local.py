"""Reprocess through the local queue: 200 images after the longest side changes (issue 11).

The emulator, the pipeline's resources and the real resize handler behind the SQS
dispatcher, in this process: 200 JPEGs are put straight into the uploads bucket and
processed at 500 px; the resize function is then rewired with 300 px (as a redeploy with a
new ``MAX_DIMENSION`` would) and ``deploy.local.reprocess`` brings every image up to date;
a second reprocess does no work.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image
from rich.console import Console

from deploy.aws.reprocess import current_version
from deploy.local.reprocess import run_reprocess
from deploy.reprocess_targets import Selection
from handlers.dynamo_store import from_dynamo
from tests.e2e.conftest import wait_until
from tests.support.in_process import InProcessPipeline, in_process_pipeline

COUNT = 200


def jpeg(n: int) -> bytes:
    image = Image.new("RGB", (640, 480), (n % 256, 80, 160))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


@pytest.fixture
def local(emulator: str) -> Iterator[InProcessPipeline]:
    # two pollers (log keys may mix between them; outcomes do not)
    with in_process_pipeline(emulator, workers=2, max_dim=500) as pipeline:
        yield pipeline


def items(local: InProcessPipeline) -> list[dict[str, Any]]:
    pages = local.dynamodb.get_paginator("scan").paginate(TableName=local.resources.table)
    return [from_dynamo(i) for page in pages for i in page["Items"]]


def rendition_sizes(local: InProcessPipeline) -> set[tuple[int, int]]:
    out = set()
    bucket = local.resources.processed_bucket
    for page in local.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            body = local.s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            out.add(Image.open(io.BytesIO(body)).size)
    return out


def test_reprocess_200_images_after_the_max_dimension_changes_then_nothing_twice(
    local: InProcessPipeline,
) -> None:
    resources = local.resources
    for n in range(COUNT):
        local.s3.put_object(Bucket=resources.uploads_bucket, Key=f"set/{n:03d}.jpg", Body=jpeg(n))
    wait_until(lambda: sum(i.get("status") == "processed" for i in items(local)) == COUNT, 120, 0.5)
    assert rendition_sizes(local) == {(500, 375)}
    old_version = {i["pipeline_version"] for i in items(local)}

    local.rewire(max_dim=300)
    selection = Selection("older", version=current_version(300))
    quiet = Console(file=io.StringIO())
    common = {
        "sqs": local.sqs,
        "s3": local.s3,
        "dynamodb": local.dynamodb,
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
