"""Shared by the pipeline benchmarks (function_modes.py, burst.py, overhead.py): generated
photo-like JPEGs, the embedded pipeline as a subprocess, and /proc readings of its process
tree (CPU seconds, resident memory)."""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def photo_jpeg(seed: int, size: tuple[int, int] = (2048, 1536), quality: int = 90) -> bytes:
    """A photo-like JPEG: blurred discs of colour plus grain. ``size``: (width, height) px."""
    rng = random.Random(seed)
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(max(2, 50 * width // 2048), max(3, 400 * width // 2048))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in "rgb"))
    image = image.filter(ImageFilter.GaussianBlur(3))
    image = Image.blend(image, Image.effect_noise(size, 20).convert("RGB"), 0.15)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def photo_folders(root: Path, images: int) -> tuple[Path, Path, list[bytes]]:
    """Write ``images`` photo-like JPEGs (:func:`photo_jpeg`, seeds 0..) to ``root/images``
    and two others to ``root/warmup`` (a pipeline's first uploads, left out of the figures);
    return both folders and the measured images' bytes."""
    folder, warmup = root / "images", root / "warmup"
    folder.mkdir()
    warmup.mkdir()
    datas = [photo_jpeg(n) for n in range(images)]
    for n, data in enumerate(datas):
        (folder / f"photo{n:03d}.jpg").write_bytes(data)
    for n in range(2):
        (warmup / f"warm{n}.jpg").write_bytes(photo_jpeg(10_000 + n))
    return folder, warmup, datas


def _processes() -> dict[int, tuple[int, list[str]]]:
    """pid -> (parent pid, fields of /proc/pid/stat after the command name)."""
    found: dict[int, tuple[int, list[str]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(entry.name)] = (int(fields[1]), fields)
    return found


def tree_pids(root_pid: int) -> list[int]:
    """``root_pid`` and its live descendants."""
    processes = _processes()
    pids, stack = [], [root_pid]
    while stack:
        pid = stack.pop()
        if pid in processes or pid == root_pid:
            pids.append(pid)
        stack.extend(child for child, (parent, _) in processes.items() if parent == pid)
    return pids


def tree_cpu_s(root_pid: int) -> tuple[float, float]:
    """User + system CPU seconds of ``root_pid`` and its live descendants; of the root alone."""
    processes = _processes()
    cpu = {pid: (int(f[11]) + int(f[12])) / CLOCK_TICKS for pid, (_, f) in processes.items()}
    total, stack = 0.0, [root_pid]
    while stack:
        pid = stack.pop()
        total += cpu.get(pid, 0.0)
        stack.extend(child for child, (parent, _) in processes.items() if parent == pid)
    return total, cpu.get(root_pid, 0.0)


def tree_rss_bytes(root_pid: int) -> int:
    """Resident memory of ``root_pid`` and its live descendants, bytes (shared pages counted
    once per process, as ``ps`` does)."""
    processes = _processes()
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        if pid in processes:
            total += int(processes[pid][1][21]) * PAGE_BYTES  # field 24 of stat: rss pages
        stack.extend(child for child, (parent, _) in processes.items() if parent == pid)
    return total


def py_spy_prefix(out: Path, rate_hz: int = 50) -> list[str]:
    """A command prefix that samples the process tree with py-spy (``pip install py-spy``)
    into ``out`` as collapsed stacks (one ``frame;frame;... count`` line per stack)."""
    py_spy = Path(sys.executable).with_name("py-spy")
    command = [str(py_spy), "record", "-r", str(rate_hz), "-o", str(out), "--format", "raw"]
    return [*command, "--subprocesses", "--"]


@contextmanager
def running_pipeline(
    *flags: str,
    root: Path = ROOT,
    stderr: Any = subprocess.DEVNULL,
    prefix: list[str] | None = None,
) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    """``python -m deploy.local --api-port 0 --emulator-port 0 -q FLAGS`` from ``root``
    (another checkout for before/after runs), serving; yields the process and its ready
    line (Contract 4). Stopped with SIGTERM on exit. ``prefix``: a command to run it under
    (:func:`py_spy_prefix`); the yielded process is then that command's."""
    command = list(prefix or [])
    command += [sys.executable, "-m", "deploy.local", "--api-port", "0", "--emulator-port", "0"]
    command += ["-q", *flags]
    env = {**os.environ, "PYTHONPATH": str(root)}
    process = subprocess.Popen(
        command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        while line and not line.startswith("{"):  # a wrapper's own output
            line = process.stdout.readline()
        if not line:
            msg = f"deploy.local exited with {process.wait()} before its ready line"
            raise RuntimeError(msg)
        yield process, json.loads(line)
    finally:
        if prefix:  # stop the pipeline itself; the wrapper ends with it
            pipeline = [pid for pid in tree_pids(process.pid) if pid != process.pid][:1]
            for pid in pipeline:
                os.kill(pid, signal.SIGTERM)
        else:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
