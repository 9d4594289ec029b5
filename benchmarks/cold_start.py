"""Cold start of each Lambda handler without the runtime: import, then build the dependencies.

``python benchmarks/cold_start.py [--runs N]``

For each function (``handlers.resize``, ``handlers.api``), ``--runs`` fresh interpreters
each: import the handler module (what Lambda's init phase does), then
``handlers.bootstrap.get_deps(role)`` (settings from the environment, the boto3 clients:
what the first invocation does before any work), with fake credentials and no network.
Reported: CPU ms (``time.process_time``, the interpreter's own start-up included) and
wall ms of each step, the minimum and the median of the runs; then the packages that cost
the most to import: each module's own time from ``-X importtime`` (wall clock, so it
swells on a busy machine) summed per top-level package, the minimum over the runs.

Bytecode: the image compiles every module at build time (``compileall``), so each run
here uses compiled files too: the children write theirs under a temporary
``PYTHONPYCACHEPREFIX`` (``PYTHONDONTWRITEBYTECODE`` is dropped for them) in a first,
uncounted run; without that, compiling the project's own modules would count as import.

Not a test: prints tables and exits 0. In the container image the same steps run behind
``python -m awslambdaric`` (about 11 ms more to import) on a read-only, lazily loaded file
system, so its wall time is higher than here.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ROLES = ("resize", "api")
ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "cold-start",
    "AWS_SECRET_ACCESS_KEY": "cold-start",
    "METADATA_TABLE": "images",
    "PROCESSED_BUCKET": "processed",
    "UPLOADS_BUCKET": "uploads",
}

PROBE = """
import time
import importlib
from handlers import bootstrap  # noqa: F401  (imported by both handlers anyway)
c1, w1 = time.process_time(), time.perf_counter()
importlib.import_module("handlers.{role}")
c2, w2 = time.process_time(), time.perf_counter()
bootstrap.get_deps("{role}")
c3, w3 = time.process_time(), time.perf_counter()
print(c3 - c2, w3 - w2, c3, w3 - START)
"""
"""Prints (deps CPU s, deps wall s, total CPU s, total wall s); ``START`` is set by ``-c``."""


def child_env(pycache: str) -> dict[str, str]:
    """The children's environment: fake AWS settings, compiled modules under ``pycache``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, **ENV, "PYTHONPATH": str(ROOT), "PYTHONPYCACHEPREFIX": pycache}


def probe(role: str, pycache: str) -> tuple[float, float, float, float, float]:
    """One fresh interpreter: (import CPU ms, import wall ms, deps CPU ms, deps wall ms,
    total CPU ms) where import covers the interpreter's start-up and the handler module."""
    code = "import time; START = time.perf_counter()\n" + PROBE.format(role=role)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=child_env(pycache),
    )
    deps_cpu, deps_wall, total_cpu, total_wall = (float(v) for v in proc.stdout.split())
    return (
        (total_cpu - deps_cpu) * 1000,
        (total_wall - deps_wall) * 1000,
        deps_cpu * 1000,
        deps_wall * 1000,
        total_cpu * 1000,
    )


def import_groups(role: str, runs: int, pycache: str) -> dict[str, float]:
    """Top-level package -> its modules' own import time in ms (``-X importtime`` self
    times summed, so packages do not overlap), the minimum over ``runs``."""
    best: dict[str, float] = {}
    for _ in range(runs):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import handlers.{role}"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env=child_env(pycache),
        )
        totals: dict[str, float] = {}
        for line in proc.stderr.splitlines():
            if not line.startswith("import time:") or "cumulative" in line:
                continue
            self_us, _cumulative, name = line.removeprefix("import time:").split("|")
            package = name.strip().split(".")[0].lstrip("_") or name.strip()
            totals[package] = totals.get(package, 0.0) + int(self_us) / 1000
        for package, ms in totals.items():
            best[package] = min(best.get(package, ms), ms)
    return dict(sorted(best.items(), key=lambda kv: -kv[1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per role (7)")
    args = parser.parse_args(argv)
    print(f"Python {sys.version.split()[0]}, {args.runs} fresh interpreters per function\n")
    pycache = tempfile.mkdtemp(prefix="cold-start-pycache-")
    for role in ROLES:
        probe(role, pycache)  # writes the bytecode, as the image's compileall does
    print("function  step                          CPU ms min / median   wall ms min / median")
    for role in ROLES:
        runs = [probe(role, pycache) for _ in range(args.runs)]
        for label, i in (
            ("start-up + import handler", 0),
            ("build deps (settings, clients)", 2),
        ):
            cpu = [r[i] for r in runs]
            wall = [r[i + 1] for r in runs]
            print(
                f"{role:8}  {label:30}  {min(cpu):6.0f} / {statistics.median(cpu):6.0f}"
                f"       {min(wall):6.0f} / {statistics.median(wall):6.0f}"
            )
        total = [r[4] for r in runs]
        print(f"{role:8}  {'total CPU':30}  {min(total):6.0f} / {statistics.median(total):6.0f}")
    for role in ROLES:
        groups = import_groups(role, args.runs, pycache)
        top = list(groups.items())[:12]
        rest = sum(ms for _, ms in list(groups.items())[12:])
        shown = ", ".join(f"{name} {ms:.0f}" for name, ms in top)
        print(f"\nimport handlers.{role}: own import ms (wall) by top-level package:")
        print(f"  {shown}, {len(groups) - len(top)} others {rest:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
