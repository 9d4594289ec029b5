"""A burst of uploads against the embedded pipeline: does every image come out once, and how
fast does the queue drain at depth?

``python benchmarks/burst.py [--api 9000] [--direct 1000] [--clients 8] [--size 800x600]``

Starts ``python -m deploy.local`` (a subprocess, serving; ``--functions``/``--workers``
passed on), then at once:

- ``--api`` uploads through the API (``POST /images``, multipart), ``--clients`` threads
  each sending one after another;
- ``--direct`` puts straight into the uploads bucket (``direct/burst-NNNNN.jpg``, boto3,
  ``--direct-clients`` threads),

all of generated photo-like JPEGs of ``--size`` (``--distinct`` different pictures, so the
engine is not the bottleneck). Then it waits until the queue is empty (visible + in flight)
and checks the metadata table and the processed bucket: every object has exactly one item,
final and ``processed``, and one rendition (lost = no final item; duplicated = a second item
for one object, an item for no object, or more renditions than items); no API answer was a
5xx. Every second it samples the queue's depth and the resident memory and CPU time of the
pipeline's process tree.

Reported beside the figures of issue 14 (measured before deploy/local/moto_sqs.py):
uploads/s, images/s (whole run, and the drain once uploads ended, split at half depth to show
whether the rate falls with depth), p50/p95 upload-to-final (upload start to the item's
``processed_at``), peak RSS of the tree, CPU per image. ``--pipeline-root`` runs the pipeline
of another checkout (e.g. ``git archive`` of an older commit) for a before/after.

Not a test: prints a report and exits 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.pipeline_tools import (  # noqa: E402
    photo_jpeg,
    py_spy_prefix,
    running_pipeline,
    tree_cpu_s,
    tree_rss_bytes,
)
from handlers.keys import direct_image_id  # noqa: E402

QUEUE = "image-uploads-events"  # deploy.local's default queue; its DLQ is QUEUE-dlq
FINAL = frozenset({"processed", "rejected", "failed"})
ANCHORS = (
    ("1,000-upload burst, drain", "7.3 images/s"),
    ("10,000-upload burst, uploads", "8.5/s (all 2xx)"),
    ("10,000-upload burst, drain", "2.0 images/s (904 done after 21 min)"),
    ("10,000-upload burst, RSS", "6.6 GB (image size not recorded)"),
    ("profile", "79 % of CPU in moto's SQS ReceiveMessage"),
)


@dataclass
class Sent:
    """One object sent: its image id, when its upload started and ended (epoch seconds)."""

    image_id: str | None
    started: float
    ended: float
    status: int  # HTTP status; 0: no answer (connection error); 200 for a direct put


@dataclass
class Samples:
    """What the monitor saw, one row per tick: (epoch s, queue depth, tree RSS bytes), and
    the tree's CPU seconds at each tick."""

    rows: list[tuple[float, int, int]] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


def queue_depth(sqs: Any, queue_url: str) -> int:
    """Visible + in-flight + delayed messages of the queue."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


def monitor(pid: int, sqs: Any, queue_url: str, samples: Samples, every_s: float) -> None:
    """Sample depth and RSS every ``every_s`` seconds until ``samples.stop`` is set."""
    while not samples.stop.is_set():
        try:
            depth = queue_depth(sqs, queue_url)
        except Exception:  # a slow emulator: keep the row, depth unknown
            depth = -1
        samples.rows.append((time.time(), depth, tree_rss_bytes(pid)))
        samples.cpu_s.append(tree_cpu_s(pid)[0])
        samples.stop.wait(every_s)


def api_uploads(api_url: str, count: int, clients: int, images: list[bytes]) -> list[Sent]:
    """``count`` ``POST /images`` uploads from ``clients`` threads."""
    numbers = itertools.count()
    lock = threading.Lock()
    sent: list[Sent] = []

    def client() -> None:
        with requests.Session() as session:
            while True:
                with lock:
                    n = next(numbers)
                if n >= count:
                    return
                data = images[n % len(images)]
                started = time.time()
                try:
                    response = session.post(
                        f"{api_url}/images",
                        files={"file": (f"burst-{n:05d}.jpg", data, "image/jpeg")},
                        timeout=120,
                    )
                    status = response.status_code
                    image_id = response.json().get("image_id") if status == 202 else None
                except requests.RequestException:
                    status, image_id = 0, None
                with lock:
                    sent.append(Sent(image_id, started, time.time(), status))

    run_threads(client, clients)
    return sent


def direct_puts(s3: Any, bucket: str, count: int, clients: int, images: list[bytes]) -> list[Sent]:
    """``count`` ``PutObject`` calls straight into the uploads bucket."""
    numbers = itertools.count()
    lock = threading.Lock()
    sent: list[Sent] = []

    def client() -> None:
        while True:
            with lock:
                n = next(numbers)
            if n >= count:
                return
            key = f"direct/burst-{n:05d}.jpg"
            started = time.time()
            try:
                s3.put_object(
                    Bucket=bucket, Key=key, Body=images[n % len(images)], ContentType="image/jpeg"
                )
                status = 200
            except Exception:
                status = 0
            with lock:
                sent.append(Sent(direct_image_id(bucket, key), started, time.time(), status))

    run_threads(client, clients)
    return sent


def run_threads(target: Callable[[], None], count: int) -> None:
    threads = [threading.Thread(target=target, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def scan_items(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    """Every item of ``table`` (plain values: strings as they are)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = dynamodb.scan(**kwargs)
        for raw in page["Items"]:
            items.append({k: next(iter(v.values())) for k, v in raw.items()})
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def count_objects(s3: Any, bucket: str) -> int:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sum(page.get("KeyCount", 0) for page in pages)


def epoch_s(stamp: str) -> float:
    """An item's ISO 8601 UTC time (``...Z``) as epoch seconds."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def rate(events: list[float], start: float, end: float) -> float:
    """Events per second in ``[start, end]``."""
    inside = sum(start < t <= end for t in events)
    return inside / (end - start) if end > start else 0.0


def rates_by_depth(
    finished: list[float], samples: Samples, threshold: float
) -> dict[bool, tuple[float, float]]:
    """Over the sampling intervals that began with the queue at least ``threshold`` deep
    (key True) and the others (False), from the first completion on: (completions per
    second, CPU ms of the tree per completion). A rate that falls with depth at the same
    CPU per image means less CPU was to be had (a shared machine), not dearer calls."""
    done = {True: 0, False: 0}
    spent = {True: 0.0, False: 0.0}
    cpu = {True: 0.0, False: 0.0}
    first = finished[0] if finished else float("inf")
    ticks = list(zip(samples.rows, samples.cpu_s, strict=True))
    for ((t0, depth, _), cpu0), ((t1, _, _), cpu1) in itertools.pairwise(ticks):
        if t1 <= first or depth < 0:
            continue
        deep = depth >= threshold
        done[deep] += sum(t0 < t <= t1 for t in finished)
        spent[deep] += t1 - t0
        cpu[deep] += cpu1 - cpu0
    return {
        band: (
            done[band] / spent[band] if spent[band] else 0.0,
            cpu[band] * 1000 / done[band] if done[band] else 0.0,
        )
        for band in (True, False)
    }


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    return int(width), int(height)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", type=int, default=9000, help="uploads through the API")
    parser.add_argument("--direct", type=int, default=1000, help="direct S3 puts")
    parser.add_argument("--clients", type=int, default=8, help="API client threads")
    parser.add_argument("--direct-clients", type=int, default=1)
    parser.add_argument("--size", type=parse_size, default=(800, 600), help="WIDTHxHEIGHT")
    parser.add_argument("--distinct", type=int, default=20, help="different pictures")
    parser.add_argument("--functions", choices=("inprocess", "process"), default="inprocess")
    parser.add_argument("--workers", type=int, default=None, help="deploy.local --workers")
    parser.add_argument("--timeout-s", type=float, default=7200, help="give up after this")
    parser.add_argument("--sample-s", type=float, default=1.0)
    parser.add_argument("--pipeline-root", type=Path, default=ROOT)
    parser.add_argument("--log", type=Path, default=None, help="the pipeline's stderr")
    parser.add_argument(
        "--py-spy",
        type=Path,
        default=None,
        metavar="FILE",
        help="profile the pipeline with py-spy into FILE (collapsed stacks; CPU and RSS "
        "figures then include py-spy)",
    )
    args = parser.parse_args()

    images = [photo_jpeg(n, args.size, quality=85) for n in range(args.distinct)]
    total = args.api + args.direct
    mean_kb = statistics.mean(len(i) for i in images) / 1000
    print(
        f"burst: {args.api} API uploads ({args.clients} clients) + {args.direct} direct puts "
        f"({args.direct_clients} client) of {args.size[0]}x{args.size[1]} JPEGs "
        f"(mean {mean_kb:.0f} kB), --functions {args.functions}, {os.cpu_count()} cores, "
        f"pipeline from {args.pipeline_root}",
        flush=True,
    )
    flags = ["--functions", args.functions, "--visibility-timeout", "120"]
    if args.workers:
        flags += ["--workers", str(args.workers)]
    log = args.log.open("w") if args.log else None
    prefix = py_spy_prefix(args.py_spy) if args.py_spy else None
    with running_pipeline(
        *flags, root=args.pipeline_root, stderr=log or subprocess.DEVNULL, prefix=prefix
    ) as (process, ready):
        config = Config(retries={"max_attempts": 10, "mode": "standard"}, read_timeout=300)
        session = boto3.session.Session(
            region_name=ready["region"], aws_access_key_id="x", aws_secret_access_key="x"
        )

        def client(service: str) -> Any:
            return session.client(
                service,  # type: ignore[call-overload]
                endpoint_url=ready["endpoint_url"],
                config=config,
            )

        sqs, s3, dynamodb = client("sqs"), client("s3"), client("dynamodb")
        queue_url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
        dlq_url = sqs.get_queue_url(QueueName=f"{QUEUE}-dlq")["QueueUrl"]
        samples = Samples()
        sampler = threading.Thread(
            target=monitor,
            args=(process.pid, client("sqs"), queue_url, samples, args.sample_s),
            daemon=True,
        )
        cpu_before, _ = tree_cpu_s(process.pid)
        started = time.time()
        sampler.start()
        results: dict[str, list[Sent]] = {}
        senders = [
            threading.Thread(
                target=lambda: results.__setitem__(
                    "api", api_uploads(ready["api_url"], args.api, args.clients, images)
                )
            ),
            threading.Thread(
                target=lambda: results.__setitem__(
                    "direct",
                    direct_puts(
                        client("s3"),
                        ready["uploads_bucket"],
                        args.direct,
                        args.direct_clients,
                        images,
                    ),
                )
            ),
        ]
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join()
        uploads_ended = time.time()
        depth_at_end = queue_depth(sqs, queue_url)
        print(
            f"uploads done in {uploads_ended - started:.0f} s; queue depth {depth_at_end}",
            flush=True,
        )
        drained = False
        last_report = time.time()
        while time.time() - started < args.timeout_s:
            depth = queue_depth(sqs, queue_url)
            if depth == 0:
                drained = True
                break
            if time.time() - last_report > 60:
                print(f"  {time.time() - started:.0f} s: depth {depth}", flush=True)
                last_report = time.time()
            time.sleep(1)
        drained_at = time.time()
        cpu_after, _ = tree_cpu_s(process.pid)
        samples.stop.set()
        sampler.join()
        items = scan_items(dynamodb, ready["table"])
        renditions = count_objects(s3, ready["processed_bucket"])
        dead_letters = queue_depth(sqs, dlq_url)

    sent = results.get("api", []) + results.get("direct", [])
    api_sent = results.get("api", [])
    direct_sent = results.get("direct", [])
    by_id = {item["image_id"]: item for item in items}
    expected = {s.image_id: s for s in sent if s.image_id}
    finals = [by_id[i] for i in expected if by_id.get(i, {}).get("status") in FINAL]
    lost = len(sent) - len(finals)
    not_processed = sum(item["status"] != "processed" for item in finals)
    per_object: dict[tuple[str, str], int] = {}
    for item in items:
        where = (item.get("source_bucket", ""), item.get("source_key", ""))
        per_object[where] = per_object.get(where, 0) + 1
    duplicated = sum(n - 1 for n in per_object.values() if n > 1)
    strays = sum(1 for i in by_id if i not in expected)
    processed_items = sum(item["status"] == "processed" for item in items)
    extra_renditions = max(0, renditions - processed_items)
    server_errors = sum(s.status >= 500 for s in sent)
    no_answer = sum(s.status == 0 for s in sent)
    refused = sum(400 <= s.status < 500 for s in sent)

    done_at = {
        i: epoch_s(by_id[i]["processed_at"]) for i in expected if "processed_at" in by_id.get(i, {})
    }
    latencies = [done_at[i] - s.started for i, s in expected.items() if i in done_at]
    finished = sorted(done_at.values())
    last_done = finished[-1] if finished else drained_at
    api_rate = len(api_sent) / (max(s.ended for s in api_sent) - started) if api_sent else 0
    direct_rate = (
        len(direct_sent) / (max(s.ended for s in direct_sent) - started) if direct_sent else 0
    )
    overall = len(finished) / (last_done - started) if finished else 0.0
    drain = rate(finished, uploads_ended, last_done)
    peak_depth, peak_at = max(((d, t) for t, d, _ in samples.rows), default=(0, started))
    bands = rates_by_depth(finished, samples, peak_depth / 2)
    peak_rss = max((rss for _, _, rss in samples.rows), default=0)
    end_rss = samples.rows[-1][2] if samples.rows else 0
    cpu_ms = (cpu_after - cpu_before) * 1000 / max(1, len(finished))

    print()
    print(f"{'figure':<44} {'this run':>22}")
    print(f"{'API uploads/s (' + str(len(api_sent)) + ')':<44} {api_rate:>22.1f}")
    print(f"{'direct puts/s (' + str(len(direct_sent)) + ')':<44} {direct_rate:>22.1f}")
    print(f"{'images/s, first upload to last final':<44} {overall:>22.2f}")
    print(f"{'images/s, drain after uploads ended':<44} {drain:>22.2f}")
    print(
        f"{'queue depth: peak (at s) / when uploads ended':<44} "
        f"{peak_depth:>8} ({peak_at - started:.0f}) / {depth_at_end}"
    )
    for deep, label in ((True, ">= half the peak"), (False, "< half the peak")):
        band_rate, band_cpu_ms = bands[deep]
        print(
            f"{'  images/s (CPU ms/image) while depth ' + label:<44} "
            f"{band_rate:>14.2f} ({band_cpu_ms:.1f})"
        )
    print(
        f"{'upload-to-final p50 / p95 / max, s':<44} "
        f"{percentile(latencies, 0.5):>8.1f} / {percentile(latencies, 0.95):.1f} / "
        f"{max(latencies, default=0):.1f}"
    )
    print(f"{'peak RSS of the pipeline tree, MB':<44} {peak_rss / 1e6:>22.0f}")
    print(f"{'RSS at the end, MB':<44} {end_rss / 1e6:>22.0f}")
    print(f"{'CPU of the tree per image, ms':<44} {cpu_ms:>22.1f}")
    print(f"{'wall clock, s':<44} {drained_at - started:>22.0f}")
    print()
    checks = {
        "drained (queue empty)": drained,
        f"0 lost (no final item): {lost}": lost == 0,
        f"0 duplicated (items {duplicated}, strays {strays}, extra renditions "
        f"{extra_renditions})": duplicated == strays == extra_renditions == 0,
        f"0 5xx: {server_errors} (no answer: {no_answer}, 4xx: {refused})": server_errors
        == no_answer
        == refused
        == 0,
        f"all processed (rejected/failed: {not_processed}; DLQ: {dead_letters})": not_processed
        == dead_letters
        == 0,
        f"renditions {renditions} = items {len(items)} = objects {total}": renditions
        == len(items)
        == total,
    }
    for text, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    print()
    print("issue 14 anchors (same machine, before deploy/local/moto_sqs.py):")
    for what, figure in ANCHORS:
        print(f"  {what:<42} {figure}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
