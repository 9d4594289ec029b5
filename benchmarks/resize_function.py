"""The resize function's cost per image, for Lambda memory and timeout sizing (issue 10).

Run: ``python benchmarks/resize_function.py [--rounds N] [--only NAME] [--renditions SPEC]``
(``--renditions`` repeatable: presets or specs as ``RENDITIONS`` takes them; default
``default``, ``web`` and ``web-large``). Not a test.

What runs is the function's own shell, :func:`handlers.pipeline.resize_object` (HEAD,
item read, GET, engine, every rendition PUT, item write), over the in-memory stores of
:mod:`handlers.memory_store`: the engine and the handler code, without network time.
Each (input, rendition set) pair runs in a fresh Python process, as a new Lambda
container would:

- ``cold ms``: CPU time (``time.process_time``, all threads) of the first object, which
  also pays lazy imports (Pillow's codecs, the AVIF encoder's start);
- ``warm ms``: the best CPU time of the next ``--rounds`` objects (same bytes, new keys);
- ``wall ms``: the wall time of that best warm round (the PUTs run on
  ``PUT_CONCURRENCY`` threads; here they cost nothing);
- ``peak MB``: the process's peak RSS (``VmHWM``) after all rounds, with Python, boto3,
  Powertools, Pillow and the handlers imported (``base MB``, before the first image).

Inputs are generated (``benchmarks/engine.py``'s ``photo_like``): the 12 MP and 24 MP
JPEGs of the engine benchmark, and the worst cases the default limits accept for time and
memory: 100 MP PNGs, RGB and RGBA (``MAX_PIXELS``; the RGBA one is the engine's 400 MB
``MAX_DECODE_BYTES``; smooth pictures, so they stay under ``MAX_OBJECT_BYTES``), which have
no reduced decode.

Lambda gives a function CPU in proportion to its memory, one vCPU at 1,769 MB, so a
single-threaded job of C CPU-ms takes about C x 1769 / MB ms there, plus the S3 GET and
PUTs (tens of ms each; the PUTs of a set run in parallel).
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine import photo_like  # the engine benchmark's generator

SETS = ("default", "web", "web-large")
LAMBDA_MB_PER_VCPU = 1769

CHILD = """
import json, sys, time

def peak_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0

import handlers.resize  # what the Lambda entry point imports: boto3, Powertools...
from handlers.config import ResizeSettings
from handlers.events import ObjectCreated
from handlers.memory_store import MemoryMetadataStore, MemoryObjectStore
from handlers.pipeline import resize_object

path, renditions, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
settings = ResizeSettings(
    metadata_table="t", processed_bucket="out", uploads_bucket="up", renditions=renditions
)
objects, metadata = MemoryObjectStore("up", "out"), MemoryMetadataStore()
data = open(path, "rb").read()
base_kb = peak_kb()
times = []
for i in range(rounds + 1):
    key = f"photos/{i}/input.bin"
    objects.put("up", key, data, content_type="application/octet-stream", metadata={})
    etag = objects.head("up", key).etag
    obj = ObjectCreated(bucket="up", key=key, size_bytes=len(data), etag=etag,
                        event_time="2024-05-01T00:00:00.000Z")
    cpu, wall = time.process_time(), time.perf_counter()
    outcome = resize_object(obj, settings=settings, objects=objects, metadata=metadata)
    times.append(((time.process_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000))
    assert outcome.status == "processed", outcome
    for k in objects.keys("out"):
        objects.delete("out", k)  # keep only what one image holds
print(json.dumps({"base_kb": base_kb, "peak_kb": peak_kb(), "times": times,
                  "files": len(metadata.items()[0]["renditions"]), "bytes_out": outcome.bytes_out}))
"""


def inputs(only: str | None) -> dict[str, bytes]:
    """The generated inputs by name (see the module docstring)."""
    made: dict[str, bytes] = {}
    for name, size in (("jpeg_12mp", (4000, 3000)), ("jpeg_24mp", (6000, 4000))):
        if only in (None, name):
            out = io.BytesIO()
            photo_like(size, seed=1).save(out, "JPEG", quality=90)
            made[name] = out.getvalue()
    size = (10_000, 10_000)
    bilinear = Image.Resampling.BILINEAR
    red = Image.linear_gradient("L").resize(size, bilinear)
    green = Image.radial_gradient("L").resize(size, bilinear)
    blue = red.transpose(Image.Transpose.ROTATE_90)
    for name, bands in (
        ("png_100mp", (red, green, blue)),
        ("png_100mp_rgba", (red, green, blue, green)),
    ):
        if only in (None, name):
            out = io.BytesIO()
            Image.merge("RGBA" if len(bands) == 4 else "RGB", bands).save(
                out, "PNG", compress_level=1
            )
            made[name] = out.getvalue()
    return made


def measure(data: bytes, renditions: str, rounds: int) -> dict[str, float]:
    """One fresh process resizing ``data`` ``rounds + 1`` times with ``renditions``."""
    root = Path(__file__).resolve().parent.parent
    with tempfile.NamedTemporaryFile(suffix=".bin") as f:
        f.write(data)
        f.flush()
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, f.name, renditions, str(rounds)],
            capture_output=True,
            text=True,
            timeout=900,
            check=True,
            cwd=root,
            env={"PYTHONPATH": str(root), "POWERTOOLS_LOG_LEVEL": "WARNING"},
        )
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    cold_cpu = report["times"][0][0]
    warm_cpu, warm_wall = min(report["times"][1:])
    return {
        "cold": cold_cpu,
        "warm": warm_cpu,
        "wall": warm_wall,
        "base": report["base_kb"] / 1024,
        "peak": report["peak_kb"] / 1024,
        "files": report["files"],
        "kb_out": report["bytes_out"] / 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="warm rounds (default 5)")
    parser.add_argument(
        "--only", help="one input: jpeg_12mp, jpeg_24mp, png_100mp or png_100mp_rgba"
    )
    parser.add_argument(
        "--renditions",
        action="append",
        metavar="SPEC|PRESET",
        help="a rendition set to measure, repeatable (default: default, web and web-large)",
    )
    args = parser.parse_args(argv)
    sets = args.renditions or list(SETS)
    header = ["input", "set", "files", "out kB", "cold ms", "warm ms", "wall ms", "base MB"]
    header += ["peak MB", "at 1024 MB", "at 1769 MB"]
    print("  ".join(header))
    for name, data in inputs(args.only).items():
        for renditions in sets:
            m = measure(data, renditions, args.rounds)
            at = [f"{m['cold'] * LAMBDA_MB_PER_VCPU / mb:,.0f} ms" for mb in (1024, 1769)]
            cells = [name, renditions, f"{m['files']:.0f}", f"{m['kb_out']:,.0f}"]
            cells += [f"{m[k]:,.1f}" for k in ("cold", "warm", "wall", "base", "peak")]
            print("  ".join(cells + at), flush=True)
    print("(at N MB: the cold CPU time as Lambda would stretch it, without S3 time)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
