"""Sizing and cost per million images: the resize function's measured work, priced.

``python benchmarks/cost.py [--rounds N] [--write README.md]`` (``make cost``)

What it measures, on generated photo-like inputs (1, 3, 12 and 24 MP JPEGs at quality 90,
a 6 MP RGBA PNG, and the 12 MP JPEG with ``RENDITIONS=web`` and ``web-large``; the
generator of ``benchmarks/engine.py``):

- **CPU ms per image**, single-threaded (``time.process_time``), the median of
  ``--rounds`` rounds after a warm-up:

  - *engine*: ``imgproc.process(data)`` alone (``imgproc.process_set`` for the set rows);
  - *handler*: ``handlers.resize.handler`` on an SQS event of 10 S3 notifications (the
    deployed shape: batch size 10), with the in-memory stores of
    :mod:`handlers.memory_store` installed, divided by 10. This is everything the function
    does per image except the AWS SDK's own work (HTTP, TLS, SigV4 signing, checksums)
    and the time spent waiting on S3 and DynamoDB (billed as duration, not CPU; see the
    note the report prints).

- **Peak MB**: the peak RSS (``VmHWM``) of a fresh process that imports the handler,
  installs the in-memory stores, stores the input and resizes it once through the handler:
  close to the "Max Memory Used" a Lambda REPORT line shows (it includes the interpreter,
  Pillow, boto3 and Powertools; the stored input stands in for the S3 GET body).

- **Requests per image**, counted on the in-memory stores during the handler run: S3 HEAD,
  GET and PUT; DynamoDB reads and writes, and the item's size (for write units).

- **Log bytes per image**: every byte the handler writes to stdout at Powertools' INFO
  level (JSON log lines and the EMF metrics line), plus the Lambda platform lines of one
  invocation (START, END, REPORT: :data:`PLATFORM_LINE_BYTES`), over 10 images, each
  line counted with the 26 bytes of per-event overhead that CloudWatch Logs counts.

Lambda duration at a memory size below 1,769 MB (one full vCPU) is the CPU time stretched
by 1769/memory (CPU is allotted in proportion to memory); at 1,769 MB and above a
single-threaded handler gets no faster. arm64 is priced from the x86_64 CPU time, on
paper (not measured on Graviton).

Prices: :data:`PRICES`, us-east-1, each with its source and date. Not a test: prints
tables; ``--write FILE`` replaces the text between the cost markers in FILE.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import engine as bench  # noqa: E402  (benchmarks/engine.py: the input generator)

BATCH_SIZE = 10
"""Messages per invocation: the event source mapping's ``BatchSize`` in deploy/aws/template.yaml."""

MEMORY_SIZES_MB = (512, 1024, 1769)
RECOMMENDED_MB = 1024
"""The resize function's ``MemorySize`` in deploy/aws/template.yaml: the engine's default
``max_decode_bytes`` (400 MB) plus the runtime fits it; 512 MB does not for the largest
inputs the engine accepts."""

FULL_VCPU_MB = 1769
PLATFORM_LINE_BYTES = 330
"""START (~70 B), END (~55 B) and REPORT (~200 B with its five fields) of one invocation,
as Lambda writes them in text format."""
LOG_EVENT_OVERHEAD_BYTES = 26
"""Per log event, as CloudWatch Logs counts event sizes (PutLogEvents: message + 26 bytes)."""

PRICE_DATE = "2026-12"
PRICE_REGION = "us-east-1"


@dataclass(frozen=True)
class Price:
    """One unit price: ``usd`` per unit, as the price page shows it (``shown``), and where."""

    usd: float
    shown: str
    source: str


PRICES = {
    "Lambda duration, x86_64": Price(
        0.0000166667, "$0.0000166667 per GB-second", "aws.amazon.com/lambda/pricing"
    ),
    "Lambda duration, arm64": Price(
        0.0000133334, "$0.0000133334 per GB-second", "aws.amazon.com/lambda/pricing"
    ),
    "Lambda requests": Price(0.20 / 1e6, "$0.20 per million", "aws.amazon.com/lambda/pricing"),
    "S3 Standard PUT": Price(0.005 / 1000, "$0.005 per 1,000", "aws.amazon.com/s3/pricing"),
    "S3 Standard GET, HEAD": Price(0.0004 / 1000, "$0.0004 per 1,000", "aws.amazon.com/s3/pricing"),
    "DynamoDB on-demand writes": Price(
        0.625 / 1e6, "$0.625 per million write request units", "aws.amazon.com/dynamodb/pricing"
    ),
    "DynamoDB on-demand reads": Price(
        0.125 / 1e6, "$0.125 per million read request units", "aws.amazon.com/dynamodb/pricing"
    ),
    "SQS standard requests": Price(
        0.40 / 1e6, "$0.40 per million (64 KB chunks)", "aws.amazon.com/sqs/pricing"
    ),
    "CloudWatch Logs ingestion": Price(
        0.50, "$0.50 per GB (Standard class)", "aws.amazon.com/cloudwatch/pricing"
    ),
}
"""us-east-1 list prices as of :data:`PRICE_DATE` (no free tier, no volume tiers), checked
then against public pages quoting the AWS price pages (DynamoDB: the on-demand rates after
the November 2024 cut)."""

DIT_LAMBDA_PER_MILLION = 10.93
DIT_CLOUDWATCH_PER_MILLION = 11.15
DIT_SOURCE = (
    "Dynamic Image Transformation for Amazon CloudFront, implementation guide, Lambda "
    "architecture costs: 10M images served at a 90 % cache hit rate (1M transforms of "
    "350 ms): Lambda $10.93, CloudWatch $11.15"
)

MARK_BEGIN = "<!-- cost table: generated by benchmarks/cost.py, do not edit by hand -->"
MARK_END = "<!-- end of cost table -->"


# --- inputs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    """One generated upload: ``name``, what it is, encoded ``data``, the ``RENDITIONS`` made."""

    name: str
    what: str
    data: bytes
    renditions: str = "default"


def make_inputs() -> list[Input]:
    """The five uploads of the table (photo-like, see ``benchmarks/engine.py``)."""
    inputs = []
    for name, size, seed in (
        ("1 MP JPEG", (1224, 816), 1),
        ("3 MP JPEG", (2048, 1536), 3),
        ("12 MP JPEG", (4000, 3000), 12),
        ("24 MP JPEG", (6000, 4000), 24),
    ):
        image = bench.photo_like(size, seed=seed)
        inputs.append(Input(name, f"{size[0]}x{size[1]}", bench.encode(image, "JPEG", quality=90)))
    rgba = next(s for s in bench.make_samples({"png_rgba_6mp"}) if s.name == "png_rgba_6mp")
    inputs.append(Input("6 MP PNG", "3000x2000 RGBA", rgba.data))
    twelve = next(i for i in inputs if i.name == "12 MP JPEG")
    for preset in ("web", "web-large"):
        name = f"12 MP JPEG, `{preset}` set"
        inputs.append(Input(name, twelve.what, twelve.data, renditions=preset))
    return inputs


# --- the handler with in-memory stores ---------------------------------------------------------

UPLOADS, PROCESSED = "uploads", "processed"


def s3_notification(key: str, data: bytes, etag: str) -> dict[str, Any]:
    """An S3 ``ObjectCreated:Put`` notification record for ``key`` in the uploads bucket."""
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": PRICE_REGION,
        "eventTime": "2026-12-01T12:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": UPLOADS, "arn": f"arn:aws:s3:::{UPLOADS}"},
            "object": {"key": key, "size": len(data), "eTag": etag, "sequencer": "0A1B2C"},
        },
    }


def sqs_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    """An SQS event with one message per S3 notification record."""
    return {
        "Records": [
            {
                "messageId": f"m-{i}",
                "receiptHandle": f"r-{i}",
                "body": json.dumps({"Records": [record]}),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{PRICE_REGION}:123456789012:resize",
                "awsRegion": PRICE_REGION,
            }
            for i, record in enumerate(records)
        ]
    }


class Context:
    """The part of the Lambda context the handler reads."""

    aws_request_id = "00000000-0000-0000-0000-000000000000"


class Counting:
    """Wraps a store; counts each call of a public method in ``counts`` (``prefix.name``)."""

    def __init__(self, inner: Any, counts: Counter[str], prefix: str):
        self._inner, self._counts, self._prefix = inner, counts, prefix

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name.startswith("_") or not callable(attr):
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            self._counts[f"{self._prefix}.{name}"] += 1
            return attr(*args, **kwargs)

        return counted


@dataclass
class Batch:
    """One handler invocation over ``BATCH_SIZE`` copies of an input."""

    cpu_ms: float
    stdout: str
    counts: Counter[str]
    items: list[dict[str, Any]]


def run_batch(data: bytes, round_no: int, renditions: str = "default") -> Batch:
    """Store ``BATCH_SIZE`` copies of ``data``, resize them in one handler call making
    ``renditions`` (a ``RENDITIONS`` value); measure it."""
    import hashlib

    from handlers import bootstrap, resize
    from handlers.config import ResizeSettings
    from handlers.memory_store import MemoryMetadataStore, MemoryObjectStore
    from handlers.observability import logger

    objects, metadata = MemoryObjectStore(UPLOADS, PROCESSED), MemoryMetadataStore()
    counts: Counter[str] = Counter()
    settings = ResizeSettings(
        metadata_table="images",
        processed_bucket=PROCESSED,
        uploads_bucket=UPLOADS,
        renditions=renditions,
    )
    bootstrap.install(
        "resize",
        bootstrap.Deps(
            settings=settings,
            objects=Counting(objects, counts, "s3"),
            metadata=Counting(metadata, counts, "dynamodb"),
        ),
    )
    etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
    records = []
    for i in range(BATCH_SIZE):
        key = f"photos/round{round_no}/image{i}.jpg"
        objects.put(UPLOADS, key, data, content_type="application/octet-stream", metadata={})
        records.append(s3_notification(key, data, etag))
    event = sqs_event(records)

    out = io.StringIO()
    handler = logger.registered_handler
    stream = getattr(handler, "stream", None)
    with contextlib.redirect_stdout(out):
        if stream is not None:
            handler.setStream(out)  # type: ignore[attr-defined]
        try:
            started = time.process_time()
            answer = resize.handler(event, Context())
            cpu_ms = (time.process_time() - started) * 1000
        finally:
            if stream is not None:
                handler.setStream(stream)  # type: ignore[attr-defined]
    if answer.get("batchItemFailures"):
        msg = f"the handler failed on {answer['batchItemFailures']}"
        raise RuntimeError(msg)
    items = metadata.items()
    if len(items) != BATCH_SIZE or any(item["status"] != "processed" for item in items):
        msg = f"expected {BATCH_SIZE} processed items, got {[i.get('status') for i in items]}"
        raise RuntimeError(msg)
    return Batch(cpu_ms, out.getvalue(), counts, [dict(item) for item in items])


def engine_cpu_ms(data: bytes, renditions: str = "default") -> float:
    """CPU ms of the engine alone making ``renditions`` of ``data``."""
    import imgproc
    from handlers.config import resolve_renditions

    started = time.process_time()
    if renditions == "default":
        imgproc.process(data)
    else:
        imgproc.process_set(data, resolve_renditions(renditions, imgproc.DEFAULT_MAX_DIM_PX))
    return (time.process_time() - started) * 1000


# --- DynamoDB item size ------------------------------------------------------------------------


def attribute_bytes(value: Any) -> int:
    """DynamoDB's size of one attribute value (developer guide, "Item sizes")."""
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, int | float | Decimal):
        digits = len(str(abs(Decimal(str(value)))).replace(".", "").lstrip("0")) or 1
        return 1 + math.ceil(digits / 2)
    if isinstance(value, dict):
        return 3 + sum(len(k.encode()) + attribute_bytes(v) + 1 for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return 3 + sum(attribute_bytes(v) + 1 for v in value)
    return len(str(value).encode())


def item_bytes(item: dict[str, Any]) -> int:
    """Attribute names plus values, as DynamoDB counts an item's size."""
    return sum(len(name.encode()) + attribute_bytes(v) for name, v in item.items())


# --- memory ------------------------------------------------------------------------------------

PEAK_CHILD = """
import os, sys, time
sys.path[:0] = [{root!r}, {bench!r}]
import cost

def peak_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0

import handlers.resize, imgproc  # noqa: F401  (what a cold start imports)
data = open(sys.argv[1], "rb").read()
if sys.argv[2] == "engine":
    base = peak_kb(); cost.engine_cpu_ms(data, sys.argv[3])
else:
    cost.BATCH_SIZE = 1
    base = peak_kb(); cost.run_batch(data, 0, sys.argv[3])
print(base, peak_kb())
"""


def peak_mb(data: bytes, what: str, renditions: str) -> tuple[float, float]:
    """(peak RSS MB, MB over the baseline after imports and reading the input) of a fresh
    process making ``renditions`` of ``data`` once (``what``: ``engine`` or ``handler``)."""
    with tempfile.NamedTemporaryFile(suffix=".img") as f:
        f.write(data)
        f.flush()
        code = PEAK_CHILD.format(root=str(ROOT), bench=str(ROOT / "benchmarks"))
        proc = subprocess.run(
            [sys.executable, "-c", code, f.name, what, renditions],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
            env={**os.environ, "POWERTOOLS_METRICS_DISABLED": "false"},
        )
    base_kb, peak_kb = (int(v) for v in proc.stdout.split()[-2:])
    return peak_kb / 1024, (peak_kb - base_kb) / 1024


# --- measurement -------------------------------------------------------------------------------


@dataclass
class Measured:
    """Per-image figures for one input (CPU ms are medians of the rounds)."""

    input: Input
    engine_ms: float
    handler_ms: float
    engine_peak_mb: float
    handler_peak_mb: float
    log_bytes: float
    counts: dict[str, float]
    item_bytes: int
    in_index: bool
    rounds: int


def measure(inp: Input, rounds: int) -> Measured:
    """Warm up, then ``rounds`` interleaved rounds of the engine and the handler."""
    engine_cpu_ms(inp.data, inp.renditions)
    run_batch(inp.data, -1, inp.renditions)
    engine_times, handler_times = [], []
    last: Batch | None = None
    for r in range(rounds):
        engine_times.append(engine_cpu_ms(inp.data, inp.renditions))
        last = run_batch(inp.data, r, inp.renditions)
        handler_times.append(last.cpu_ms / BATCH_SIZE)
    assert last is not None
    lines = last.stdout.splitlines()
    handler_log = sum(len(line.encode()) + 1 + LOG_EVENT_OVERHEAD_BYTES for line in lines)
    platform = PLATFORM_LINE_BYTES + 3 * LOG_EVENT_OVERHEAD_BYTES
    item = max(last.items, key=item_bytes)
    engine_peak, _ = peak_mb(inp.data, "engine", inp.renditions)
    handler_peak, _ = peak_mb(inp.data, "handler", inp.renditions)
    return Measured(
        input=inp,
        engine_ms=statistics.median(engine_times),
        handler_ms=statistics.median(handler_times),
        engine_peak_mb=engine_peak,
        handler_peak_mb=handler_peak,
        log_bytes=(handler_log + platform) / BATCH_SIZE,
        counts={name: n / BATCH_SIZE for name, n in last.counts.items()},
        item_bytes=item_bytes(item),
        in_index="listing" in item and "uploaded_at" in item,
        rounds=rounds,
    )


# --- pricing -----------------------------------------------------------------------------------


def duration_ms(cpu_ms: float, memory_mb: int) -> float:
    """Billed duration of ``cpu_ms`` of single-threaded work at ``memory_mb`` (no I/O wait)."""
    return cpu_ms * max(1.0, FULL_VCPU_MB / memory_mb)


def compute_usd_per_million(cpu_ms: float, memory_mb: int, arch: str) -> float:
    price = PRICES[f"Lambda duration, {arch}"].usd
    gb_s = duration_ms(cpu_ms, memory_mb) / 1000 * memory_mb / 1024
    return gb_s * price * 1e6


@dataclass(frozen=True)
class Bill:
    """USD per million images, by line."""

    compute: float
    requests: float
    s3: float
    dynamodb: float
    sqs: float
    logs: float

    @property
    def total(self) -> float:
        return self.compute + self.requests + self.s3 + self.dynamodb + self.sqs + self.logs


S3_REQUEST_CLASS = {
    "s3.head": "get",
    "s3.get": "get",
    "s3.put": "put",
    "s3.delete": "free",
    "s3.keys": "put",  # a LIST
    "s3.presign_get": "free",
    "s3.presign_post": "free",
}
"""Store call -> S3 request class (GET-class, PUT-class; DELETE and presigning are free)."""

DYNAMODB_UNITS = {
    "dynamodb.get": "read",
    "dynamodb.record": "write",
    "dynamodb.create_pending": "write",
}
"""Store call -> the request units it consumes (strongly consistent reads)."""


def bill(m: Measured, memory_mb: int, arch: str) -> Bill:
    """The cost of one million images like ``m`` at ``memory_mb`` on ``arch``."""
    c = m.counts
    unpriced = set(c) - set(S3_REQUEST_CLASS) - set(DYNAMODB_UNITS)
    if unpriced:
        msg = f"no price for the store calls {sorted(unpriced)}: add them to cost.py"
        raise ValueError(msg)
    write_units = math.ceil(m.item_bytes / 1024) * (2 if m.in_index else 1)  # + the GSI copy
    read_units = math.ceil(m.item_bytes / 4096)  # strongly consistent: 1 per 4 KB
    units = {"read": read_units, "write": write_units}
    s3_price = {"get": PRICES["S3 Standard GET, HEAD"].usd, "put": PRICES["S3 Standard PUT"].usd}
    ddb_price = {"read": PRICES["DynamoDB on-demand reads"].usd}
    ddb_price["write"] = PRICES["DynamoDB on-demand writes"].usd
    # S3 -> SQS: one SendMessage per upload; the event source mapping: one receive and one
    # DeleteMessageBatch per batch.
    sqs_requests = 1 + 2 / BATCH_SIZE
    return Bill(
        compute=compute_usd_per_million(m.handler_ms, memory_mb, arch),
        requests=PRICES["Lambda requests"].usd / BATCH_SIZE * 1e6,
        s3=sum(
            n * s3_price.get(S3_REQUEST_CLASS[call], 0.0)
            for call, n in c.items()
            if call in S3_REQUEST_CLASS
        )
        * 1e6,
        dynamodb=sum(
            n * units[DYNAMODB_UNITS[call]] * ddb_price[DYNAMODB_UNITS[call]]
            for call, n in c.items()
            if call in DYNAMODB_UNITS
        )
        * 1e6,
        sqs=sqs_requests * PRICES["SQS standard requests"].usd * 1e6,
        logs=m.log_bytes / 1e9 * PRICES["CloudWatch Logs ingestion"].usd * 1e6,
    )


# --- report ------------------------------------------------------------------------------------


def usd(value: float) -> str:
    return f"${value:,.2f}" if value >= 0.1 else f"${value:,.3f}"


def markdown(rows: list[list[str]], headers: list[str], *, numeric: bool = True) -> str:
    """A markdown table; columns after the first right-aligned when ``numeric``."""
    align = ["---"] + ["---:" if numeric else "---"] * (len(headers) - 1)
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def report(measured: list[Measured], machine: str) -> str:
    """The markdown section: sizing, cost lines, prices, method."""
    out: list[str] = []
    sizing = [
        [
            f"{m.input.name} ({m.input.what})",
            f"{m.engine_ms:.1f}",
            f"{m.handler_ms:.1f}",
            f"{m.handler_ms / m.engine_ms:.2f}",
            f"{m.engine_peak_mb:.0f} / {m.handler_peak_mb:.0f}",
            *(f"{duration_ms(m.handler_ms, mb):.0f}" for mb in MEMORY_SIZES_MB),
        ]
        for m in measured
    ]
    out.append(
        markdown(
            sizing,
            [
                "upload",
                "engine CPU ms",
                "handler CPU ms",
                "handler / engine",
                "peak MB engine / handler",
                *(f"duration ms at {mb} MB" for mb in MEMORY_SIZES_MB),
            ],
        )
    )
    out.append(
        f"\nCPU ms per image, median of {measured[0].rounds} rounds on {machine}, Python "
        f"{sys.version.split()[0]}, {bench.pillow_build()}; the handler runs on SQS batches of "
        f"{BATCH_SIZE} with in-memory stores. Duration = CPU ms x {FULL_VCPU_MB}/memory below "
        f"{FULL_VCPU_MB} MB, without waiting on S3 and DynamoDB."
    )

    header = [
        "upload",
        "compute x86_64",
        "compute arm64 (on paper)",
        "requests",
        "S3",
        "DynamoDB",
        "SQS",
        "logs",
        "total x86_64",
        "total arm64",
    ]
    for mb in (RECOMMENDED_MB,):
        rows = []
        for m in measured:
            x86, arm = bill(m, mb, "x86_64"), bill(m, mb, "arm64")
            rows.append(
                [
                    m.input.name,
                    usd(x86.compute),
                    usd(arm.compute),
                    usd(x86.requests),
                    usd(x86.s3),
                    usd(x86.dynamodb),
                    usd(x86.sqs),
                    usd(x86.logs),
                    f"**{usd(x86.total)}**",
                    usd(arm.total),
                ]
            )
        out.append(f"\nUSD per million images at {mb} MB (recommended), {PRICE_REGION}:\n")
        out.append(markdown(rows, header))

    m0 = measured[0]
    c = m0.counts
    write_units = math.ceil(m0.item_bytes / 1024) * (2 if m0.in_index else 1)
    gsi = " plus its copy in the `by_uploaded_at` index (projection ALL)" if m0.in_index else ""
    io_cost = compute_usd_per_million(10, RECOMMENDED_MB, "x86_64") / (FULL_VCPU_MB / 1024)
    twelve = next((m for m in measured if m.input.name == "12 MP JPEG"), None)
    out.append("")
    out.append(
        f"Per image the handler makes {c.get('s3.head', 0):g} S3 HEAD, {c.get('s3.get', 0):g} "
        f"GET and {c.get('s3.put', 0):g} PUT (the rendition); {c.get('dynamodb.get', 0):g} "
        f"strongly consistent DynamoDB read and {c.get('dynamodb.record', 0):g} conditional "
        f"write of a {m0.item_bytes} B item ({write_units} write units: the item{gsi}); "
        f"SQS: the S3 notification's SendMessage plus one receive and one delete per batch "
        f"of {BATCH_SIZE}; Lambda: one request per batch. Logs: {m0.log_bytes:.0f} B per "
        f"image at INFO (Powertools JSON lines, the EMF metrics line and the START/END/REPORT "
        f"lines of an invocation, shared by its {BATCH_SIZE} images)."
    )
    for m in measured:
        if m.input.renditions != m0.input.renditions:
            units = math.ceil(m.item_bytes / 1024) * (2 if m.in_index else 1)
            out.append(
                f"\n{m.input.name}: {m.counts.get('s3.put', 0):g} S3 PUTs per image (one per "
                f"rendition), a {m.item_bytes} B item ({units} write units), "
                f"{m.log_bytes:.0f} B of logs."
            )
    out.append(
        f"\nNot in the table: time waiting on S3 and DynamoDB is billed as duration too "
        f"(every 10 ms of it per image adds {usd(io_cost)} per million at {RECOMMENDED_MB} MB, "
        f"x86_64); the SDK's CPU for HTTP, TLS and signing; storage (S3 $0.023 per GB-month, "
        f"log retention, the table); CloudWatch custom metrics from the EMF line (per metric "
        f"per month, not per image); data transfer out; the API function for API uploads. "
        f"Compute costs the same at every memory size up to {FULL_VCPU_MB} MB for this "
        f"CPU-bound work (a smaller size runs proportionally longer); {RECOMMENDED_MB} MB is "
        f"recommended because the engine's decode budget (400 MB) and the runtime fit it."
    )
    if twelve is not None:
        x86 = bill(twelve, RECOMMENDED_MB, "x86_64")
        out.append(
            f"\n12 MP photos, default rendition, {RECOMMENDED_MB} MB x86_64: "
            f"{usd(x86.compute)} of Lambda compute per million images (target: at most $3), "
            f"{usd(x86.total)} in all (compute, requests, S3, DynamoDB, SQS, logs). AWS's "
            f"Dynamic Image Transformation publishes ${DIT_LAMBDA_PER_MILLION:.2f} of Lambda "
            f"and ${DIT_CLOUDWATCH_PER_MILLION:.2f} of CloudWatch per million transforms "
            f"(350 ms each; {DIT_SOURCE.split(': ', 1)[0]})."
        )
    prices = [[name, p.shown, p.source] for name, p in PRICES.items()]
    out.append(
        f"\nPrices used: {PRICE_REGION} list prices as of {PRICE_DATE} (no free tier, no volume "
        "tiers):\n"
    )
    out.append(markdown(prices, ["item", "price", "source"], numeric=False))
    return "\n".join(out)


def replace_between_markers(text: str, section: str) -> str:
    """``text`` with the part between :data:`MARK_BEGIN` and :data:`MARK_END` replaced.

    Raises:
        ValueError: the markers are missing.
    """
    begin, end = text.find(MARK_BEGIN), text.find(MARK_END)
    if begin < 0 or end < begin:
        msg = f"expected the markers {MARK_BEGIN!r} and {MARK_END!r} in the file"
        raise ValueError(msg)
    return text[: begin + len(MARK_BEGIN)] + "\n" + section + "\n" + text[end:]


def machine() -> str:
    """One line about this machine's CPU."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores, shared)"
    return f"{os.uname().machine} ({os.cpu_count()} cores)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per input (7)")
    parser.add_argument("--write", metavar="FILE", help="replace the cost section of FILE")
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "resize")
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "false"  # the EMF line is part of the logs
    started = time.perf_counter()
    print("generating inputs...", flush=True)
    measured = []
    for inp in make_inputs():
        print(f"measuring {inp.name}...", flush=True)
        measured.append(measure(inp, args.rounds))
    section = report(measured, machine())
    print()
    print(section)
    if args.write:
        path = Path(args.write)
        path.write_text(replace_between_markers(path.read_text(), section))
        print(f"\nwrote the cost section of {path}")
    print(f"\n(total {time.perf_counter() - started:.0f} s wall)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
