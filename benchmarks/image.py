"""The container image's figures: size, init duration per function, first invocation.

``python benchmarks/image.py [--runs 5] [--image image-pipeline:local] [--simd-image
image-pipeline:simd]`` (``make image`` / ``make image-simd`` first; needs the container
lab, see tests/container/lab.py, or a Docker engine on Linux).

- **size**: uncompressed, as ``podman image inspect`` reports it, beside the sizes before
  issue 13 (265 MB default, 251 MB SIMD) and its goal (<= 250 MB);
- **init duration** of each function: from the start of the container's process (its
  start time in ``/proc``) to its first ``/next`` call on the Runtime API (the moment the
  Lambda service hands it the queued invocation), as Lambda's Init Duration; the
  container runs as Lambda runs it (image entry point, handler as command, read-only
  root, tmpfs ``/tmp``, the function's memory size, no init process). Before issue 13:
  0.59-0.94 s measured by hand; goal <= 0.5 s;
- **first invocation** of the resize function on a 12 MP photo-like JPEG (4000x3000,
  quality 90) stored in S3 (moto's server on loopback), as an SQS event: the invoke
  duration of a cold instance (boto3 clients built, object read, resized, written, item
  recorded), then a warm one on a second photo.

Not a test: prints a table and exits 0 (1 when no engine or image is there).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from deploy.local.lambda_service.invocations import Invocation  # noqa: E402
from tests.container import lab  # noqa: E402
from tests.support.events import s3_event_for, sqs_event  # noqa: E402
from tests.support.lambda_image import (  # noqa: E402
    API_COMMAND,
    REGION,
    RESIZE_COMMAND,
    Storage,
    emulated_storage,
    external_function,
    function_container,
    storage_free_event,
)

UPLOADS, PROCESSED, TABLE, QUEUE = "bench-uploads", "bench-processed", "bench-metadata", "bench-q"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
FUNCTIONS = {"resize": (RESIZE_COMMAND, 1024), "api": (API_COMMAND, 512)}
SIZE_ANCHORS_MB = {"default": 265, "simd": 251}


def photo_jpeg(seed: int, size: tuple[int, int] = (4000, 3000)) -> bytes:
    """A photo-like JPEG: blurred discs of colour plus grain, quality 90."""
    rng = random.Random(seed)
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for _ in range(80):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.randrange(80, 700)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in "rgb"))
    image = image.filter(ImageFilter.GaussianBlur(4))
    image = Image.blend(image, Image.effect_noise(size, 20).convert("RGB"), 0.15)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def process_start_boottime_s(pid: int) -> float:
    """When ``pid`` started, seconds since boot (``/proc/PID/stat`` field 22)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[19]) / CLOCK_TICKS


def monotonic_to_boottime(moment: float) -> float:
    return moment + (time.clock_gettime(time.CLOCK_BOOTTIME) - time.monotonic())


@contextmanager
def cold_instance(
    image: str, name: str, storage: Storage, *invocations: Any
) -> Iterator[tuple[list[Invocation], int]]:
    """Queue ``invocations``, then start one container of ``image`` for function ``name``
    (no init process, as on Lambda).

    Yields the queued invocations and the container process's host PID.
    """
    command, memory_mb = FUNCTIONS[name]
    with external_function(name, memory_mb=memory_mb, queue_timeout_s=180) as function:
        queued = [function.queue.submit(event, timeout_s=60) for event in invocations]
        with function_container(
            function, command, storage, image=image, init=False, prefix="bench"
        ) as container:
            pid = int(lab.cli("inspect", "-f", "{{.State.Pid}}", container).stdout.strip())
            yield queued, pid


def init_duration_s(image: str, name: str, storage: Storage) -> float:
    """One cold start of function ``name``: process start to its first ``/next``."""
    event = storage_free_event(FUNCTIONS[name][0])
    with cold_instance(image, name, storage, event) as ((invocation,), pid):
        if not invocation.dispatched.wait(180) or invocation.started_at is None:
            raise RuntimeError(f"{name}: no /next within 180 s")
        started = process_start_boottime_s(pid)
        invocation.done.wait(60)
        assert invocation.result is not None and invocation.result.ok, invocation.result
    return monotonic_to_boottime(invocation.started_at) - started


def first_invocations_ms(image: str, storage: Storage) -> tuple[float, float, float]:
    """Init (s) and the cold and warm resize durations (ms) of two 12 MP JPEGs."""
    s3 = boto3.client(
        "s3",
        endpoint_url=storage.endpoint_url,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    events = []
    for n in range(2):
        key = f"bench/{uuid.uuid4().hex}/photo{n}.jpg"
        s3.put_object(Bucket=UPLOADS, Key=key, Body=photo_jpeg(n), ContentType="image/jpeg")
        head = s3.head_object(Bucket=UPLOADS, Key=key)
        events.append(sqs_event(s3_event_for(UPLOADS, key, head, sequencer=None)))
    with cold_instance(image, "resize", storage, *events) as (queued, pid):
        for invocation in queued:
            invocation.done.wait(180)
        started = process_start_boottime_s(pid)
    cold, warm = (q.result for q in queued)
    assert cold is not None and warm is not None and cold.ok and warm.ok, (cold, warm)
    assert cold.payload == {"batchItemFailures": []}, cold.payload
    first = queued[0]
    assert first.started_at is not None
    init = monotonic_to_boottime(first.started_at) - started
    return init, cold.duration_ms, warm.duration_ms


def size_mb(image: str) -> float:
    inspected = json.loads(lab.cli("image", "inspect", image).stdout)[0]
    return int(inspected["Size"]) / 1e6


def spread(values: list[float]) -> str:
    """Best, median and worst of ``values`` (seconds)."""
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"best {low:.2f} s, median {mid:.2f} s, max {high:.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="cold starts per function")
    parser.add_argument("--image", default=lab.IMAGE)
    parser.add_argument("--simd-image", default=lab.SIMD_IMAGE)
    args = parser.parse_args(argv)
    reason = lab.why_unavailable(args.image)
    if reason:
        print(f"cannot run the image: {reason}", file=sys.stderr)
        return 1
    variants = {"default": args.image}
    if lab.image_exists(args.simd_image):
        variants["simd"] = args.simd_image
    print(f"engine: {lab.engine()}; {args.runs} cold starts per function and variant\n")
    print("| figure | now | before issue 13 | goal |")
    print("|---|---|---|---|")
    for variant, image in variants.items():
        size = size_mb(image)
        print(
            f"| image size, {variant} | {size:.0f} MB | {SIZE_ANCHORS_MB[variant]} MB | <= 250 MB |"
        )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "test")  # moto takes any key; boto3 wants one
    with emulated_storage(UPLOADS, PROCESSED, TABLE, QUEUE) as storage:
        for variant, image in variants.items():
            for name in FUNCTIONS:
                runs = [init_duration_s(image, name, storage) for _ in range(args.runs)]
                print(
                    f"| init duration, {name} ({variant}) | {spread(runs)} "
                    "| 0.59-0.94 s | <= 0.5 s |"
                )
        for variant, image in variants.items():
            init, cold_ms, warm_ms = first_invocations_ms(image, storage)
            print(
                f"| 12 MP JPEG, resize ({variant}): first invocation | {cold_ms:.0f} ms "
                f"(after init {init:.2f} s); warm: {warm_ms:.0f} ms | | |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
