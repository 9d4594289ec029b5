"""The embedded pipeline with the functions in-process vs as awslambdaric processes.

``python benchmarks/function_modes.py [--images 40] [--rounds 2] [--workers N]``

For each mode of ``python -m deploy.local --functions inprocess|process`` (started as a
subprocess, serving): two warm-up uploads (instance inits, client set-up: excluded), then
``--images`` generated 3 MP photo-like JPEGs (2048x1536, quality 90) uploaded through the
API by the batch client (4 in flight, this process: not counted), waiting for every final
item. Reported per mode and round:

- throughput: images / wall-clock seconds from the first upload to the last final item;
- CPU per image: user + system CPU of the whole process tree (runner, emulator, function
  processes), from /proc, between the same two instants, divided by the images; and of the
  runner process alone (emulator, API front, dispatcher; in-process mode also the handlers);
- the engine alone (``imgproc.process``) on the same images, CPU per image, as the anchor.

Not a test: prints a table and exits 0. Run on a quiet machine; rounds alternate modes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.overhead import engine_cpu_ms, pipeline_run  # noqa: E402
from benchmarks.pipeline_tools import photo_folders  # noqa: E402


def run_mode(mode: str, folder: Path, warmup: Path, workers: int) -> tuple[float, float, float]:
    """(images/s, CPU ms per image of the tree, of the runner process alone) of one run of
    the pipeline in ``mode`` (:func:`benchmarks.overhead.pipeline_run`)."""
    return pipeline_run(folder, warmup, ["--functions", mode, "--workers", str(workers)], None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=max(2, os.cpu_count() or 1))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder, warmup, _ = photo_folders(Path(tmp), args.images)
        print(
            f"{args.images} images 2048x1536 JPEG q90, {os.cpu_count()} cores, "
            f"--workers {args.workers}"
        )
        datas = [p.read_bytes() for p in sorted(folder.iterdir())]
        print(f"engine alone: {engine_cpu_ms(datas):.1f} ms CPU per image")
        print(f"{'mode':<10} {'round':>5} {'images/s':>9} {'CPU ms/image':>13} {'runner':>7}")
        for round_number in range(1, args.rounds + 1):
            for mode in ("inprocess", "process"):
                rate, cpu_ms, runner_ms = run_mode(mode, folder, warmup, args.workers)
                print(
                    f"{mode:<10} {round_number:>5} {rate:>9.2f} {cpu_ms:>13.1f} {runner_ms:>7.1f}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
