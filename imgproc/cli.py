"""Command line: resize local image files with the engine (DESIGN.md Contract 1).

::

    python -m imgproc resize INPUT... --out OUTDIR [--max-dim 500] [--json]
                                      [--preset default|web|web-large | --renditions SPEC]
                                      [--max-pixels N] [--max-input-bytes N] [--jobs N]

Also installed as the ``imgproc`` console script (``imgproc.cli:main``).

This module parses the command line and runs the inputs; the rules live beside
the code that applies them:

- :mod:`imgproc.cli_plan`: which files are inputs (folders walked recursively,
  hidden files skipped), output names and collisions, and the refusal to let OUTDIR
  hold the inputs (``--out photos`` for ``photos``: exit 2, originals never
  overwritten);
- :mod:`imgproc.cli_outputs`: where the renditions of a set go (the first, primary
  one where the single output always went; the others in ``OUTDIR/<stem>/<name>.<ext>``);
- :mod:`imgproc.cli_report`: the JSON Lines records (``--json``) and the summary
  for a person.

Renditions
    ``--preset NAME`` (``default``: one ``--max-dim`` rendition, JPEG or PNG, what the
    command always made; ``web``: that plus 320 px and ``--max-dim`` px as AVIF, WebP
    and JPEG or PNG; ``web-large``: the default plus 320/640/1280 px in those formats)
    or ``--renditions SPEC`` (the spec syntax of :mod:`imgproc.renditions`, for example
    ``default:500, thumb:200:webp``). ``--max-dim`` sets the preset's primary size and
    cannot be combined with ``--renditions``. All renditions of an input are
    made from one decode (:func:`imgproc.process_set`).

Reading and writing
    A file bigger than ``--max-input-bytes`` (default 50 MiB, the same limit the
    resize function applies to S3 objects) is rejected as ``too_large`` after a
    ``stat()``, without being read. A file that exists but cannot be read while
    processing (permission denied, I/O error) gets ``"status": "failed"``.

    Every output is written to a hidden temporary file in its target folder and then
    moved into place with ``os.replace``: a rejected, failed or interrupted input never
    leaves a partial output file. The renditions of an input are all encoded before the
    first is written; if writing one fails, those already written for that input are
    removed again, so an input ends with all its renditions or none.

Exit status
    0 when every input was processed (also when folders held no files), 1 when any
    input was rejected or failed, 2 for a usage error (bad option, missing input,
    OUTDIR holding the inputs; reported before anything is processed), 130 when
    interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from imgproc import (
    DEFAULT_MAX_DIM_PX,
    DEFAULT_MAX_PIXELS,
    ImageRejected,
    RenditionSet,
    SpecError,
    parse_renditions,
    preset,
    process_set,
)
from imgproc.cli_outputs import check_rendition_outputs, output_paths, set_record
from imgproc.cli_plan import (
    Task,
    UsageError,
    check_out_dir,
    collect_inputs,
    plan_outputs,
)
from imgproc.cli_report import (
    FAILED,
    INTERNAL_ERROR,
    PROCESSED,
    REJECTED,
    UNREADABLE,
    WRITE_FAILED,
    Record,
    collect_with_progress,
    print_json_lines,
    print_summary,
)
from imgproc.encode import missing_encoders
from imgproc.errors import TOO_LARGE
from imgproc.renditions import DEFAULT_PRESET, PRESETS

DEFAULT_MAX_INPUT_BYTES = 52_428_800
"""Largest input file read, in bytes (50 MiB; the resize function's MAX_OBJECT_BYTES)."""

__all__ = [
    "DEFAULT_MAX_INPUT_BYTES",
    "FAILED",
    "PROCESSED",
    "REJECTED",
    "Limits",
    "Task",
    "UsageError",
    "build_parser",
    "collect_inputs",
    "main",
    "plan_outputs",
    "run_all",
    "run_task",
    "write_atomic",
]


@dataclass(frozen=True, slots=True)
class Limits:
    """Engine and reading limits for one run (pixels, bytes), and what to make.

    ``renditions`` ``None`` means the ``default`` preset at ``max_dim``.
    """

    max_dim: int = DEFAULT_MAX_DIM_PX
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES
    renditions: RenditionSet | None = None

    def rendition_set(self) -> RenditionSet:
        """The renditions to make for each input."""
        if self.renditions is not None:
            return self.renditions
        return preset(DEFAULT_PRESET, max_dim_px=self.max_dim)


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


def _rejected(name: str, rejection: ImageRejected) -> Record:
    """A ``rejected`` record: reason, message and whatever the engine knew (its facts)."""
    record: Record = {
        "input": name,
        "status": REJECTED,
        "reason": rejection.reason,
        "message": rejection.message,
    }
    record.update(rejection.facts)
    return record


def run_task(task: Task, limits: Limits) -> Record:
    """Read, process and write one input; return its JSON-ready record.

    Never raises for a bad input or an I/O fault: those become ``rejected`` or
    ``failed`` records (see :mod:`imgproc.cli_report`). KeyboardInterrupt propagates.
    """
    name = str(task.input_path)
    try:
        data = _read_capped(task.input_path, limits.max_input_bytes)
    except ImageRejected as e:
        return _rejected(name, e)
    except OSError as e:
        msg = f"cannot read the input: {e.strerror or e}"
        return {"input": name, "status": FAILED, "reason": UNREADABLE, "message": msg}

    started = time.perf_counter()
    try:
        result = process_set(data, limits.rendition_set(), max_pixels=limits.max_pixels)
    except ImageRejected as e:
        return _rejected(name, e)
    except Exception as e:  # a bug in the engine must not sink the whole batch
        msg = f"the engine raised {type(e).__name__}: {e}"
        return {"input": name, "status": FAILED, "reason": INTERNAL_ERROR, "message": msg}
    duration_ms = round((time.perf_counter() - started) * 1000, 1)

    outputs = output_paths(task, result.renditions)
    try:
        _write_all(outputs, [r.data for r in result.renditions])
    except _WriteFailed as e:
        return {"input": name, "status": FAILED, "reason": WRITE_FAILED, "message": str(e)}

    primary = result.primary_result()
    record: Record = {
        "input": name,
        "status": PROCESSED,
        "output": str(outputs[0]),
        "width": primary.width,
        "height": primary.height,
        "format": primary.format,
    }
    record.update(primary.facts())
    record["input_size_bytes"] = len(data)
    record["duration_ms"] = duration_ms
    record.update(set_record(result, outputs))
    return record


class _WriteFailed(Exception):
    """Writing one of an input's outputs failed; the message names the file."""


def _write_all(paths: Sequence[Path], blobs: Sequence[bytes]) -> None:
    """Write every blob to its path atomically, or none: on a failure, remove those
    written so far (the previous run's files at those paths are gone then too).

    Raises:
        _WriteFailed: naming the file that could not be written.
    """
    written: list[Path] = []
    try:
        for path, blob in zip(paths, blobs, strict=True):
            try:
                write_atomic(path, blob)
            except OSError as e:
                msg = f"cannot write {path}: {e.strerror or e}"
                raise _WriteFailed(msg) from e
            written.append(path)
    except BaseException:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        raise


def _run_task_star(args: tuple[Task, Limits]) -> Record:
    return run_task(*args)


def run_all(tasks: Sequence[Task], limits: Limits, jobs: int) -> Iterator[Record]:
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
            "is at most --max-dim pixels, writing OUTDIR/<name>.<jpg|png>; with a preset or "
            "renditions set, also OUTDIR/<name>/<rendition>.<ext>. "
            "Exit status: 0 all processed, 1 any rejected or failed, 2 usage error."
        ),
    )
    resize.set_defaults(command_parser=resize)
    resize.add_argument("inputs", nargs="+", type=Path, metavar="INPUT")
    resize.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="OUTDIR",
        help="folder for the outputs; must not be a folder holding the inputs",
    )
    resize.add_argument(
        "--max-dim",
        type=_positive_int,
        default=None,
        metavar="PX",
        help=(
            "longest side of the output (the preset's first rendition) in pixels, never "
            f"upscaled (default {DEFAULT_MAX_DIM_PX})"
        ),
    )
    which = resize.add_mutually_exclusive_group()
    which.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=DEFAULT_PRESET,
        help=(
            "renditions to make: 'default' one JPEG or PNG (what this command always "
            "made); 'web' that plus 320 px and --max-dim px as AVIF, WebP and JPEG or PNG, "
            "in OUTDIR/<name>/; 'web-large' the default plus 320/640/1280 px in those "
            "formats (default %(default)s)"
        ),
    )
    which.add_argument(
        "--renditions",
        metavar="SPEC",
        help=(
            "renditions by hand: comma-separated [NAME:]SIZE[:FORMAT][:OPTION=N], e.g. "
            "'default:500, thumb:200:webp:q=70, 1200:avif'; FORMAT auto|jpeg|png|webp|avif; "
            "OPTION q, speed (AVIF), method (WebP), compress_level (PNG). The first item is "
            "the primary output, OUTDIR/<name>.<ext> (the pipeline's RENDITIONS puts a "
            "'default' rendition first when the spec names none); the others go in "
            "OUTDIR/<name>/"
        ),
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


def _rendition_set(parser: argparse.ArgumentParser, args: argparse.Namespace) -> RenditionSet:
    """The set from ``--preset``/``--max-dim`` or ``--renditions``; usage errors exit 2."""
    if args.renditions is not None and args.max_dim is not None:
        parser.error("--max-dim sets a preset's size; with --renditions give each size in SPEC")
    try:
        if args.renditions is not None:
            renditions = parse_renditions(args.renditions)
        else:
            renditions = preset(args.preset, max_dim_px=args.max_dim or DEFAULT_MAX_DIM_PX)
    except SpecError as e:
        parser.error(f"--renditions: {e}" if args.renditions is not None else str(e))
    missing = missing_encoders({r.format for r in renditions})
    if missing:
        parser.error(f"this Pillow cannot encode {', '.join(missing)}")
    return renditions


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0, 1, 2 or 130; see module docstring)."""
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with 2 on a usage error
    parser = args.command_parser  # later usage errors print the sub-command's usage

    renditions = _rendition_set(parser, args)
    out_dir: Path = args.out
    if out_dir.exists() and not out_dir.is_dir():
        parser.error(f"--out must be a folder, {out_dir} is a file")
    try:
        tasks = plan_outputs(collect_inputs(args.inputs, out_dir), out_dir)
        check_out_dir(args.inputs, out_dir, tasks)
        check_rendition_outputs(tasks, renditions)
    except UsageError as e:
        parser.error(str(e))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        parser.error(f"cannot create --out folder {out_dir}: {e.strerror or e}")

    limits = Limits(
        max_dim=renditions.primary.max_dim_px,
        max_pixels=args.max_pixels,
        max_input_bytes=args.max_input_bytes,
        renditions=renditions,
    )
    if not tasks:
        print("imgproc: no input files found (hidden files are skipped)", file=sys.stderr)

    started = time.perf_counter()
    try:
        if args.json:
            records = print_json_lines(run_all(tasks, limits, args.jobs))
        else:
            records = collect_with_progress(run_all(tasks, limits, args.jobs), len(tasks))
            print_summary(records, time.perf_counter() - started)
    except KeyboardInterrupt:
        print("imgproc: interrupted", file=sys.stderr)
        return 130
    return 0 if all(r["status"] == PROCESSED for r in records) else 1
