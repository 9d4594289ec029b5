"""Local reprocess rate, and what that per-image time means for 10 million objects on AWS.

``python benchmarks/reprocess.py [--images 60] [--size 3000x2000] [--workers 1]``

In this process: the AWS emulator, the pipeline's resources and the real resize handler
behind the SQS dispatcher (``--workers`` pollers). ``--images`` generated photo-like
JPEGs (6 MP by default, quality 90, like a phone photo) are put straight into the
uploads bucket and processed at 500 px; the resize function is rewired at 300 px and
``deploy.local.reprocess`` (``--older``) brings them all up to date. Reported:

- the reprocess: images/s and wall-clock ms per image, queue fed to queue drained, with
  the emulator's S3/DynamoDB/SQS round trips in it;
- the engine alone (``imgproc.process`` at 300 px) on the same images: CPU ms per image,
  the anchor for Lambda (where S3 and DynamoDB are ~10 ms away, not in-process);
- on paper, :func:`deploy.aws.reprocess.estimate` for 10,000,000 objects with S3 Batch
  Operations at 1,000 concurrent invocations (Lambda's default account quota), per-image
  seconds = the engine's CPU time scaled to 1,024 MB (0.58 vCPU) plus 0.1 s of S3 and
  DynamoDB round trips.

Not a test: prints the figures and exits 0.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "x")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "x")

from rich.console import Console  # noqa: E402

from deploy.aws.reprocess import current_version, estimate  # noqa: E402
from deploy.local.demo import NOON, grain, landscape  # noqa: E402
from deploy.local.emulator import Emulator  # noqa: E402
from deploy.local.reprocess import run_reprocess  # noqa: E402
from deploy.reprocess_targets import Selection  # noqa: E402
from imgproc import process  # noqa: E402
from tests.support.in_process import in_process_pipeline  # noqa: E402

LAMBDA_VCPU_AT_1024_MB = 1024 / 1769
ROUND_TRIPS_S = 0.1  # HEAD + GET + PUT + 2 GetItem + UpdateItem inside a Region


def photo_jpeg(seed: int, size: tuple[int, int]) -> bytes:
    """A photo-like JPEG (the demo set's landscape, grained), quality 90."""
    width, height = size
    scene = landscape((width // 4, height // 4), seed=seed, palette=NOON).resize(size)
    out = io.BytesIO()
    grain(scene, amount=30, seed=seed).save(out, "JPEG", quality=90)
    return out.getvalue()


def main() -> int:
    """Run the benchmark; prints the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--size", default="3000x2000")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    photos = [photo_jpeg(n, (width, height)) for n in range(args.images)]
    logging.getLogger("moto").setLevel(logging.ERROR)

    started = time.process_time()
    for data in photos:
        process(data, max_dim=300)
    engine_ms = (time.process_time() - started) * 1000 / len(photos)

    with (
        Emulator(port=0) as emulator,
        in_process_pipeline(emulator.endpoint_url, workers=args.workers) as pipeline,
    ):
        res = pipeline.resources
        for n, data in enumerate(photos):
            pipeline.s3.put_object(Bucket=res.uploads_bucket, Key=f"photos/{n:04d}.jpg", Body=data)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            count = pipeline.dynamodb.scan(TableName=res.table, Select="COUNT")["Count"]
            if count >= len(photos):
                break
            time.sleep(0.5)
        time.sleep(2)
        pipeline.rewire(max_dim=300)
        summary = run_reprocess(
            Selection("older", version=current_version(300)),
            sqs=pipeline.sqs,
            s3=pipeline.s3,
            dynamodb=pipeline.dynamodb,
            queue_url=res.queue_url,
            uploads_bucket=res.uploads_bucket,
            table=res.table,
            rate_per_s=10_000,
            console=Console(file=io.StringIO()),
        )

    wall_ms = summary.elapsed_s * 1000 / max(1, summary.sent)
    per_image_s = engine_ms / 1000 / LAMBDA_VCPU_AT_1024_MB + ROUND_TRIPS_S
    paper = estimate(10_000_000, seconds_per_image=per_image_s, concurrency=1000)
    print(f"images: {len(photos)} JPEGs of {width}x{height}, {args.workers} poller(s)")
    print(
        f"local reprocess: {summary.rate:.2f} images/s, {wall_ms:.0f} ms per image "
        f"(redone {summary.redone}, up to date {summary.unchanged})"
    )
    print(f"engine alone at 300 px: {engine_ms:.0f} ms CPU per image")
    print(f"per image on Lambda (1,024 MB, assumed): {per_image_s:.3f} s")
    for line in paper.lines():
        print(f"10M on AWS: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
