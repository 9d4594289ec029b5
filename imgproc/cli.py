"""Command line: resize local image files with the engine (DESIGN.md Contract 1).

::

    python -m imgproc resize INPUT... --out OUTDIR [--max-dim 500] [--json]
                                      [--max-pixels N] [--max-input-bytes N] [--jobs N]

Also installed as the ``imgproc`` console script (``imgproc.cli:main``).

Inputs
    Each INPUT is a file or a folder. Folders are walked recursively in sorted order;
    hidden files and hidden folders (name starting with ``.``) are skipped, and so is
    OUTDIR itself when it lies inside a walked folder (a second run must not eat the
    first run's outputs). From a folder, only files with an image suffix
    (:data:`imgproc.sniff.IMAGE_SUFFIXES`: ``.jpg``, ``.heic``, ``.png``... in any case)
    are inputs, so a ``README.md`` or ``.DS_Store`` beside the photos is not an error;
    the suffix only selects files, the format is still sniffed from the content. A
    file named on the command line is always an input, whatever its name. Symlinked
    files are followed, symlinked folders are not. A file reached twice (listed and
    also inside a listed folder) is processed once.

    An INPUT argument that does not exist, or is neither a regular file nor a folder,
    is a usage error (exit 2) reported before anything is processed: it is a typo on
    the command line, not a verdict on an image. A file that exists but cannot be read
    while processing (permission denied, I/O error) gets ``"status": "failed"``.

    A file bigger than ``--max-input-bytes`` (default 50 MiB, the same limit the
    resize function applies to S3 objects) is rejected as ``too_large`` after a
    ``stat()``, without being read.

Outputs
    ``OUTDIR/<relative dir>/<stem>.<ext>`` where ``<ext>`` is the output format's
    extension (``jpg``, ``png``, ``webp``). For a file given directly the relative dir
    is empty; for a file found in a folder it is its sub-folder inside that folder
    (``photos/2024/a.heic`` given as ``photos`` -> ``OUTDIR/2024/a.jpg``).

    Collisions are resolved from the input names alone, before any processing, so the
    mapping is deterministic whatever the images turn out to be. Names are compared
    case-insensitively (``A.jpg`` and ``a.png`` collide, as they would on macOS or
    Windows). Inputs with a unique ``<relative dir>/<stem>`` keep their stem. When
    several inputs share one, each gets its lower-cased input extension appended:
    ``a.jpg`` -> ``a_jpg.jpg``, ``a.png`` -> ``a_png.png`` (or ``a_png.jpg`` if it is
    opaque). If that is still taken, ``_2``, ``_3``... follow, in input order. An
    existing file at an output path (an earlier run) is replaced.

    Every output is written to a hidden temporary file in its target folder and then
    moved into place with ``os.replace``: a rejected, failed or interrupted input never
    leaves a partial output file.

Reporting
    ``--json``: one JSON object per input on stdout (JSON Lines), in input order::

        {"input": "a.jpg", "status": "processed", "output": "OUTDIR/a.jpg",
         "width": 500, "height": 333, "format": "JPEG", ...Result.facts()...,
         "input_size_bytes": 123456, "duration_ms": 41.2}
        {"input": "b.txt", "status": "rejected", "reason": "unsupported_format",
         "message": "..."}
        {"input": "c.jpg", "status": "failed", "reason": "unreadable", "message": "..."}

    ``rejected`` reasons come from :data:`imgproc.errors.REASONS` (the image is not
    acceptable and never will be). ``failed`` is the CLI's own status for faults that
    are not about the image: ``unreadable`` (reading the input failed),
    ``write_failed`` (writing the output failed) and ``internal_error`` (the engine
    raised something other than ``ImageRejected``: a bug).

    Without ``--json``: a progress bar on stderr, then a summary table and a totals
    line on stdout.

Exit status
    0 when every input was processed (also when folders held no files), 1 when any
    input was rejected or failed, 2 for a usage error, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import stat
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePath

from imgproc import DEFAULT_MAX_DIM_PX, DEFAULT_MAX_PIXELS, ImageRejected, process
from imgproc.errors import TOO_LARGE
from imgproc.sniff import IMAGE_SUFFIXES

DEFAULT_MAX_INPUT_BYTES = 52_428_800
"""Largest input file read, in bytes (50 MiB; the resize function's MAX_OBJECT_BYTES)."""

PROCESSED = "processed"
REJECTED = "rejected"
FAILED = "failed"

UNREADABLE = "unreadable"
WRITE_FAILED = "write_failed"
INTERNAL_ERROR = "internal_error"


class UsageError(Exception):
    """The command line names something that cannot be an input or an output folder."""


@dataclass(frozen=True, slots=True)
class Task:
    """One input file and where its output goes.

    Attributes:
        input_path: the file to read, as the user spelled it (joined with walked names).
        output_base: OUTDIR / relative dir / unique stem, without the extension; the
            output format's extension is appended once the engine has chosen it.
    """

    input_path: Path
    output_base: Path


@dataclass(frozen=True, slots=True)
class Limits:
    """Engine and reading limits for one run (pixels, bytes)."""

    max_dim: int = DEFAULT_MAX_DIM_PX
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES


# --- planning: which files, which output names (no image I/O) -------------------------------


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def _walk_folder(folder: Path, skip_dir: Path | None) -> Iterator[tuple[Path, PurePath]]:
    """Yield ``(path, path relative to folder)`` for every regular, non-hidden image file.

    Recursive, sorted by name at each level (files of a folder before its sub-folders),
    not following symlinked folders, never descending into ``skip_dir``.
    """
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not _is_hidden(d) and (skip_dir is None or _resolve(here / d) != skip_dir)
        )
        for name in sorted(filenames):
            path = here / name
            if _is_hidden(name) or path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            if not _is_regular_file(path):
                continue
            yield path, path.relative_to(folder)


def _resolve(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


def _is_regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def collect_inputs(inputs: Sequence[Path], out_dir: Path) -> list[tuple[Path, PurePath]]:
    """Expand INPUT arguments into ``(path, relative name)`` pairs, in order.

    The relative name is the file name for a file argument and the path inside the
    folder for a walked file; it decides the output name. Duplicates (same resolved
    file) are kept once, at their first position.

    Raises:
        UsageError: an argument does not exist or is neither a regular file nor a folder.
    """
    skip_dir = _resolve(out_dir)
    found: list[tuple[Path, PurePath]] = []
    seen: set[Path] = set()
    for arg in inputs:
        try:
            mode = arg.stat().st_mode
        except FileNotFoundError:
            msg = f"input not found: {arg}"
            raise UsageError(msg) from None
        except OSError as e:
            msg = f"cannot access input {arg}: {e.strerror or e}"
            raise UsageError(msg) from None
        if stat.S_ISDIR(mode):
            candidates: Iterator[tuple[Path, PurePath]] = _walk_folder(arg, skip_dir)
        elif stat.S_ISREG(mode):
            candidates = iter([(arg, PurePath(arg.name))])
        else:
            msg = f"input is neither a regular file nor a folder: {arg}"
            raise UsageError(msg)
        for path, rel in candidates:
            key = _resolve(path)
            if key not in seen:
                seen.add(key)
                found.append((path, rel))
    return found


def plan_outputs(found: Sequence[tuple[Path, PurePath]], out_dir: Path) -> list[Task]:
    """Give every input a unique output base name (see the module docstring, Outputs).

    Deterministic for a given input order; names compared case-insensitively.
    """

    def key(rel_dir: PurePath, stem: str) -> str:
        return (rel_dir / stem).as_posix().casefold()

    groups: dict[str, int] = {}
    for _, rel in found:
        k = key(rel.parent, rel.stem)
        groups[k] = groups.get(k, 0) + 1

    stems: list[str | None] = [None] * len(found)
    used: set[str] = set()
    # First pass: inputs whose stem is unique keep it (they reserve their names).
    for i, (_, rel) in enumerate(found):
        k = key(rel.parent, rel.stem)
        if groups[k] == 1:
            stems[i] = rel.stem
            used.add(k)
    # Second pass: shared stems get the input extension, then a counter if needed.
    for i, (_, rel) in enumerate(found):
        if stems[i] is not None:
            continue
        ext = rel.suffix.lstrip(".").lower()
        base = f"{rel.stem}_{ext}" if ext else rel.stem
        candidate, n = base, 2
        while key(rel.parent, candidate) in used:
            candidate, n = f"{base}_{n}", n + 1
        stems[i] = candidate
        used.add(key(rel.parent, candidate))

    return [
        Task(input_path=path, output_base=out_dir / rel.parent / stem)
        for (path, rel), stem in zip(found, stems, strict=True)
        if stem is not None
    ]


# --- doing: read, process, write one input -----------------------------------------------------


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``.

    Creates missing parent folders. On any failure (including KeyboardInterrupt) the
    temporary file is removed and ``path`` is left as it was.

    Raises:
        OSError: the folder or file could not be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def _read_capped(path: Path, max_bytes: int) -> bytes:
    """Read a file of at most ``max_bytes`` bytes.

    Raises:
        ImageRejected: ``too_large``, decided by ``stat()`` before reading (and again
            after reading, should the file have grown meanwhile).
        OSError: the file cannot be read.
    """
    size_bytes = path.stat().st_size
    if size_bytes > max_bytes:
        msg = f"expected at most {max_bytes} bytes, got {size_bytes}"
        raise ImageRejected(TOO_LARGE, msg)
    with path.open("rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        msg = f"expected at most {max_bytes} bytes, got more (the file grew while read)"
        raise ImageRejected(TOO_LARGE, msg)
    return data


def run_task(task: Task, limits: Limits) -> dict[str, object]:
    """Read, process and write one input; return its JSON-ready record.

    Never raises for a bad input or an I/O fault: those become ``rejected`` or
    ``failed`` records (see the module docstring). KeyboardInterrupt propagates.
    """
    name = str(task.input_path)
    try:
        data = _read_capped(task.input_path, limits.max_input_bytes)
    except ImageRejected as e:
        return {"input": name, "status": REJECTED, "reason": e.reason, "message": e.message}
    except OSError as e:
        msg = f"cannot read the input: {e.strerror or e}"
        return {"input": name, "status": FAILED, "reason": UNREADABLE, "message": msg}

    started = time.perf_counter()
    try:
        result = process(data, max_dim=limits.max_dim, max_pixels=limits.max_pixels)
    except ImageRejected as e:
        return {"input": name, "status": REJECTED, "reason": e.reason, "message": e.message}
    except Exception as e:  # a bug in the engine must not sink the whole batch
        msg = f"the engine raised {type(e).__name__}: {e}"
        return {"input": name, "status": FAILED, "reason": INTERNAL_ERROR, "message": msg}
    duration_ms = round((time.perf_counter() - started) * 1000, 1)

    output = task.output_base.with_name(f"{task.output_base.name}.{result.extension}")
    try:
        write_atomic(output, result.data)
    except OSError as e:
        msg = f"cannot write {output}: {e.strerror or e}"
        return {"input": name, "status": FAILED, "reason": WRITE_FAILED, "message": msg}

    record: dict[str, object] = {
        "input": name,
        "status": PROCESSED,
        "output": str(output),
        "width": result.width,
        "height": result.height,
        "format": result.format,
    }
    record.update(result.facts())
    record["input_size_bytes"] = len(data)
    record["duration_ms"] = duration_ms
    return record


def _run_task_star(args: tuple[Task, Limits]) -> dict[str, object]:
    return run_task(*args)


def run_all(tasks: Sequence[Task], limits: Limits, jobs: int) -> Iterator[dict[str, object]]:
    """Yield one record per task, in task order; ``jobs`` > 1 uses a process pool."""
    if jobs <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield run_task(task, limits)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        try:
            yield from pool.map(_run_task_star, [(t, limits) for t in tasks], chunksize=1)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


# --- presenting --------------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        msg = f"expected a positive integer, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if value < 1:
        msg = f"expected a positive integer, got {value}"
        raise argparse.ArgumentTypeError(msg)
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``imgproc`` argument parser (one sub-command, ``resize``)."""
    parser = argparse.ArgumentParser(
        prog="imgproc",
        description="Resize images the way the pipeline does: upright, sRGB, no metadata.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    resize = commands.add_parser(
        "resize",
        help="resize image files and folders into OUTDIR",
        description=(
            "Resize every INPUT (files, or folders walked recursively) so the longest side "
            "is at most --max-dim pixels, writing OUTDIR/<name>.<jpg|png|webp>. "
            "Exit status: 0 all processed, 1 any rejected or failed, 2 usage error."
        ),
    )
    resize.set_defaults(command_parser=resize)
    resize.add_argument("inputs", nargs="+", type=Path, metavar="INPUT")
    resize.add_argument("--out", required=True, type=Path, metavar="OUTDIR")
    resize.add_argument(
        "--max-dim",
        type=_positive_int,
        default=DEFAULT_MAX_DIM_PX,
        metavar="PX",
        help=f"longest side of the output in pixels, never upscaled (default {DEFAULT_MAX_DIM_PX})",
    )
    resize.add_argument(
        "--max-pixels",
        type=_positive_int,
        default=DEFAULT_MAX_PIXELS,
        metavar="N",
        help=f"reject inputs with more pixels than this (default {DEFAULT_MAX_PIXELS})",
    )
    resize.add_argument(
        "--max-input-bytes",
        type=_positive_int,
        default=DEFAULT_MAX_INPUT_BYTES,
        metavar="N",
        help=(
            "reject files bigger than this many bytes without reading them "
            f"(default {DEFAULT_MAX_INPUT_BYTES})"
        ),
    )
    resize.add_argument(
        "--jobs",
        type=_positive_int,
        default=1,
        metavar="N",
        help="worker processes (default 1)",
    )
    resize.add_argument(
        "--json", action="store_true", help="print one JSON object per input (JSON Lines)"
    )
    return parser


def _kb(size_bytes: object) -> str:
    return f"{size_bytes / 1024:,.1f}" if isinstance(size_bytes, int) else ""


def _print_summary(records: Sequence[dict[str, object]], elapsed_s: float) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title="imgproc resize")
    table.add_column("input", overflow="fold", min_width=16, ratio=3)
    table.add_column("status", no_wrap=True)
    table.add_column("original -> output", no_wrap=True)
    table.add_column("KB in -> out", justify="right", no_wrap=True)
    table.add_column("output / reason", overflow="fold", min_width=16, ratio=2)
    style = {PROCESSED: "green", REJECTED: "yellow", FAILED: "red"}
    for r in records:
        status = str(r["status"])
        if status == PROCESSED:
            dims = (
                f"{r['original_width']}x{r['original_height']} {r['original_format']} -> "
                f"{r['width']}x{r['height']} {r['format']}"
            )
            sizes = f"{_kb(r['input_size_bytes'])} -> {_kb(r['size_bytes'])}"
            detail = Text(str(r["output"]))
        else:
            dims = sizes = ""
            detail = Text(f"{r['reason']}: {r['message']}")
        table.add_row(Text(str(r["input"])), Text(status, style=style[status]), dims, sizes, detail)

    counts = {s: sum(1 for r in records if r["status"] == s) for s in (PROCESSED, REJECTED, FAILED)}
    done = [r for r in records if r["status"] == PROCESSED]
    in_bytes = sum(int(r["input_size_bytes"]) for r in done)  # type: ignore[call-overload]
    out_bytes = sum(int(r["size_bytes"]) for r in done)  # type: ignore[call-overload]
    console = Console()
    if not console.is_terminal:  # redirected to a file or a pipe: don't cut at 80 columns
        console = Console(width=max(console.width, 200))
    if records:
        console.print(table)
    console.print(
        f"{len(records)} inputs: {counts[PROCESSED]} processed, {counts[REJECTED]} rejected, "
        f"{counts[FAILED]} failed; {in_bytes / 1e6:,.2f} MB in -> {out_bytes / 1e6:,.2f} MB out "
        f"(processed inputs) in {elapsed_s:.1f} s",
        highlight=False,
    )


def _run_with_progress(tasks: Sequence[Task], limits: Limits, jobs: int) -> list[dict[str, object]]:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    records: list[dict[str, object]] = []
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[current]}", markup=False),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        bar = progress.add_task("resizing", total=len(tasks), current="")
        for record in run_all(tasks, limits, jobs):
            records.append(record)
            progress.update(bar, advance=1, current=str(record["input"]))
    return records


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0, 1, 2 or 130; see module docstring)."""
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with 2 on a usage error
    parser = args.command_parser  # later usage errors print the sub-command's usage

    out_dir: Path = args.out
    if out_dir.exists() and not out_dir.is_dir():
        parser.error(f"--out must be a folder, {out_dir} is a file")
    try:
        found = collect_inputs(args.inputs, out_dir)
    except UsageError as e:
        parser.error(str(e))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        parser.error(f"cannot create --out folder {out_dir}: {e.strerror or e}")

    tasks = plan_outputs(found, out_dir)
    limits = Limits(
        max_dim=args.max_dim, max_pixels=args.max_pixels, max_input_bytes=args.max_input_bytes
    )
    if not tasks:
        print("imgproc: no input files found (hidden files are skipped)", file=sys.stderr)

    started = time.perf_counter()
    try:
        if args.json:
            records = []
            for record in run_all(tasks, limits, args.jobs):
                records.append(record)
                sys.stdout.write(json.dumps(record) + "\n")
                sys.stdout.flush()
        else:
            records = _run_with_progress(tasks, limits, args.jobs)
            _print_summary(records, time.perf_counter() - started)
    except KeyboardInterrupt:
        print("imgproc: interrupted", file=sys.stderr)
        return 130
    return 0 if all(r["status"] == PROCESSED for r in records) else 1
