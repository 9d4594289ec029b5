"""What the pipeline spends per image beyond the engine: CPU per image, three ways, on the
same generated photos.

``python benchmarks/overhead.py [--images 40] [--rounds 2] [--functions inprocess]``

On ``--images`` generated 3 MP photo-like JPEGs (2048x1536, quality 90):

1. **engine alone**: ``imgproc.process`` on each image's bytes, CPU of this process; also
   ``imgproc.process_set`` with the handler's default rendition set (the engine work the
   handler does: the rendition plus the item's placeholders and source SHA-256), for
   reading the rows below; the ratios stay to ``process``, as issue 14 states them;
2. **resize handler alone**: ``handlers.resize.handler`` on SQS events (batches of 10,
   as the dispatcher sends them) with the in-memory stores (``handlers.memory_store``)
   installed as its dependencies: what Lambda would bill beyond S3 and DynamoDB latency
   (event parsing, Powertools logging and metrics, the resize decision, the item). Twice:
   as deploy.local runs it (log level WARNING, metrics off) and as on AWS (INFO, EMF
   metrics printed; both to /dev/null);
3. **embedded pipeline**: ``python -m deploy.local`` (a subprocess, serving; two warm-up
   images first, start-up excluded), the images uploaded through the API by the batch
   client (``deploy.local.batch.run_batch``, 4 in flight, in this process: not counted),
   waiting for every final item; the user + system CPU of the whole process tree (runner,
   emulator, function processes) between the first upload and the last final item, per
   image. Also the throughput (images/s) beside the engine CLI's (``python -m imgproc
   resize``, the same images, one process per worker, wall clock).

Ratios are to the engine alone. Issue 14's targets: the pipeline at most 2.0x, the handler
alone at most 1.3x. ``--py-spy FILE`` profiles the pipeline's last round (collapsed stacks;
``benchmarks/stacks.py FILE`` sums them). Not a test: prints a table, exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.pipeline_tools import (  # noqa: E402
    photo_folders,
    py_spy_prefix,
    running_pipeline,
    tree_cpu_s,
)

ANCHORS = {
    "engine": "14 ms (issue 14); 10.9 ms (C1)",
    "pipeline": "96 ms (issue 14, 7x); 82-86 ms in-process, 95-97 ms process (C1)",
    "throughput": "11 images/s vs the engine CLI's 77 with one worker (issue 14)",
}


def engine_cpu_ms(datas: list[bytes]) -> float:
    """CPU ms per image of ``imgproc.process`` alone (best of three passes)."""
    import imgproc

    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for data in datas:
            imgproc.process(data, max_dim=500)
        best = min(best, (time.process_time() - started) * 1000 / len(datas))
    return best


def engine_set_cpu_ms(datas: list[bytes]) -> float:
    """CPU ms per image of ``imgproc.process_set`` with the rendition set the resize handler
    makes by default (its renditions plus the item's placeholders and source SHA-256),
    best of three passes: the engine work inside the handler rows."""
    import imgproc
    from handlers.config import ResizeSettings

    renditions = ResizeSettings(
        metadata_table="t", processed_bucket="out", uploads_bucket="up", region="us-east-1"
    ).rendition_set()
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for data in datas:
            imgproc.process_set(data, renditions)
        best = min(best, (time.process_time() - started) * 1000 / len(datas))
    return best


def sqs_event(bucket: str, keys: list[str], sizes: list[int], etags: list[str]) -> dict[str, Any]:
    """The SQS event the dispatcher sends for these S3 objects (one notification each)."""
    records = []
    for n, (key, size, etag) in enumerate(zip(keys, sizes, etags, strict=True)):
        notification = {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": "us-east-1",
                    "eventTime": "2024-05-01T00:00:00.000Z",
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                        "object": {
                            "key": quote_plus(key),
                            "size": size,
                            "eTag": etag,
                            "sequencer": f"{n:016X}",
                        },
                    },
                }
            ]
        }
        records.append(
            {
                "messageId": f"m-{n}-{key}",
                "receiptHandle": f"r-{n}",
                "body": json.dumps(notification),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                "awsRegion": "us-east-1",
            }
        )
    return {"Records": records}


def handler_cpu_ms(datas: list[bytes], *, log_level: str, metrics: bool, rounds: int = 3) -> float:
    """CPU ms per image of the resize handler over the in-memory stores (best round), with
    Powertools logging at ``log_level`` and EMF metrics on or off; their output (stdout on
    Lambda) is written to /dev/null."""
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "false" if metrics else "true"
    from deploy.local.lambda_context import lambda_context
    from handlers import bootstrap, resize
    from handlers.bootstrap import Deps
    from handlers.config import ResizeSettings
    from handlers.memory_store import MemoryMetadataStore, MemoryObjectStore
    from handlers.observability import logger

    logger.setLevel(log_level)
    best = float("inf")
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        stream_handler = logger.registered_handler
        assert isinstance(stream_handler, logging.StreamHandler)
        stream_handler.setStream(devnull)
        for round_number in range(rounds):
            settings = ResizeSettings(
                metadata_table="t", processed_bucket="out", uploads_bucket="up", region="us-east-1"
            )
            objects, metadata = MemoryObjectStore("up", "out"), MemoryMetadataStore()
            bootstrap.install("resize", Deps(settings, objects, metadata))
            keys = [f"direct/r{round_number}-{n:03d}.jpg" for n in range(len(datas))]
            etags = []
            for key, data in zip(keys, datas, strict=True):
                objects.put("up", key, data, content_type="image/jpeg", metadata={})
                etags.append(objects.head("up", key).etag)
            events = [
                sqs_event(
                    "up", keys[i : i + 10], [len(d) for d in datas[i : i + 10]], etags[i : i + 10]
                )
                for i in range(0, len(keys), 10)
            ]
            started = time.process_time()
            for event in events:
                reply = resize.handler(event, lambda_context("resize", "us-east-1", 60))
                assert not reply.get("batchItemFailures"), reply
            best = min(best, (time.process_time() - started) * 1000 / len(datas))
            assert len(objects.keys("out")) == len(datas)
        stream_handler.setStream(sys.stderr)
    bootstrap.reset()
    return best


def pipeline_run(
    folder: Path, warmup: Path, flags: list[str], py_spy: Path | None, root: Path = ROOT
) -> tuple[float, float, float]:
    """(images/s, CPU ms per image of the tree, of the runner process alone) of one run."""
    from deploy.local.batch import plan_batch, run_batch

    prefix = py_spy_prefix(py_spy) if py_spy else None
    with running_pipeline(*flags, prefix=prefix, root=root) as (process, ready):
        root_pid = process.pid
        api_url = ready["api_url"]
        warm = run_batch(api_url, plan_batch([warmup], None), timeout_s=120, concurrency=2)
        assert all(o.status == "processed" for o in warm), warm
        time.sleep(2)  # every function instance past its init
        sources = plan_batch([folder], None)
        (tree_before, root_before), started = tree_cpu_s(root_pid), time.monotonic()
        outcomes = run_batch(api_url, sources, timeout_s=300, concurrency=4)
        elapsed_s = time.monotonic() - started
        tree_after, root_after = tree_cpu_s(root_pid)
    processed = sum(o.status == "processed" for o in outcomes)
    assert processed == len(sources), [o.status for o in outcomes]
    per_image_ms = 1000 / processed
    return (
        processed / elapsed_s,
        (tree_after - tree_before) * per_image_ms,
        (root_after - root_before) * per_image_ms,
    )


def engine_cli_rate(folder: Path, workers: int, out: Path) -> float:
    """Images/s of ``python -m imgproc resize`` over ``folder``, ``workers`` processes each
    taking a share of the files (wall clock, interpreter start included)."""
    files = sorted(folder.iterdir())
    shares = [files[n::workers] for n in range(workers)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "imgproc",
                "resize",
                *map(str, share),
                "--out",
                str(out / str(n)),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for n, share in enumerate(shares)
    ]
    for process in processes:
        assert process.wait() == 0
    return len(files) / (time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--functions", choices=("inprocess", "process"), default="inprocess")
    parser.add_argument("--workers", type=int, default=max(2, os.cpu_count() or 1))
    parser.add_argument("--py-spy", type=Path, default=None, metavar="FILE")
    parser.add_argument(
        "--pipeline-root",
        type=Path,
        default=ROOT,
        help="run the pipeline of this checkout (a before/after); the engine and handler "
        "rows are this one's",
    )
    parser.add_argument(
        "--before-root",
        type=Path,
        default=None,
        metavar="DIR",
        help="also run the pipeline of this checkout (e.g. `git archive` of an older "
        "commit), its rounds interleaved with this one's, so that both see the same "
        "machine load",
    )
    args = parser.parse_args()
    flags = ["--functions", args.functions, "--workers", str(args.workers)]
    with tempfile.TemporaryDirectory() as tmp:
        folder, warmup, datas = photo_folders(Path(tmp), args.images)
        out = Path(tmp, "out")
        print(
            f"{args.images} images 2048x1536 JPEG q90, {os.cpu_count()} cores, "
            f"--functions {args.functions} --workers {args.workers}",
            flush=True,
        )
        engine_ms = engine_cpu_ms(datas)
        engine_set_ms = engine_set_cpu_ms(datas)
        quiet_ms = handler_cpu_ms(datas, log_level="WARNING", metrics=False)
        aws_ms = handler_cpu_ms(datas, log_level="INFO", metrics=True)
        print(f"{'what':<40} {'CPU ms/image':>12} {'x engine':>9}  anchor")
        print(f"{'engine alone':<40} {engine_ms:>12.1f} {1:>9.2f}  {ANCHORS['engine']}")
        print(
            f"{'engine, the handler default set':<40} {engine_set_ms:>12.1f} "
            f"{engine_set_ms / engine_ms:>9.2f}  process_set: + placeholders, SHA-256 "
            "(in the rows below)"
        )
        for label, ms in (
            ("resize handler, memory stores, as local", quiet_ms),
            ("resize handler, memory stores, as AWS", aws_ms),
        ):
            print(f"{label:<40} {ms:>12.1f} {ms / engine_ms:>9.2f}  target <= 1.3x", flush=True)
        rates = []
        checkouts = [("", args.pipeline_root)]
        if args.before_root:
            checkouts.insert(0, ("before, ", args.before_root))
        for round_number in range(1, args.rounds + 1):
            profile = args.py_spy if round_number == args.rounds else None
            for which, root in checkouts:
                rate, tree_ms, runner_ms = pipeline_run(
                    folder, warmup, flags, None if which else profile, root
                )
                if not which:
                    rates.append(rate)
                label = f"{which}embedded pipeline, round {round_number}"
                print(
                    f"{label:<40} {tree_ms:>12.1f} {tree_ms / engine_ms:>9.2f}  "
                    f"target <= 2.0x; {ANCHORS['pipeline']} (runner process alone: "
                    f"{runner_ms:.1f}; {rate:.1f} images/s)",
                    flush=True,
                )
        cli_rate = engine_cli_rate(folder, args.workers, out)
        print(
            f"throughput: pipeline {max(rates):.1f} images/s, engine CLI {cli_rate:.1f} images/s "
            f"({args.workers} workers, interpreter start included); {ANCHORS['throughput']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
