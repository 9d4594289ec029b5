"""Planning a run over local files: which files are inputs, where their outputs go.

The one set of rules for ``imgproc resize`` and for the local runner's batch form
(``python -m deploy.local FILES...``, :mod:`deploy.local.batch`), so the same folder
gives the same inputs and the same output names either way. No image I/O here: only
names, ``stat()`` and folder listings, so a plan is made (and refused) before anything
is read, processed, uploaded or written.

Inputs
    Each INPUT is a file or a folder. Folders are walked recursively in sorted order;
    hidden files and hidden folders (name starting with ``.``) are skipped (and OUTDIR,
    were it inside a walked folder; :func:`check_out_dir` refuses that). From a folder,
    only files with an image suffix (:data:`imgproc.sniff.IMAGE_SUFFIXES`: ``.jpg``,
    ``.heic``, ``.png``... in any case) are inputs, so a ``README.md`` or ``.DS_Store``
    beside the photos is not an error; the suffix only selects files, the format is
    still sniffed from the content. A file named on the command line is always an input,
    whatever its name. Symlinked files are followed, symlinked folders are not. A file
    reached twice (listed and also inside a listed folder) is processed once.

    An INPUT argument that does not exist, or is neither a regular file nor a folder,
    is a usage error (exit 2) reported before anything is processed: it is a typo on
    the command line, not a verdict on an image. (The batch form instead reports a
    missing file as that file's outcome, an ``io_error``: ``missing_ok``.)

Outputs
    ``OUTDIR/<relative dir>/<stem>.<ext>`` where ``<ext>`` is the output format's
    extension (``jpg`` or ``png``: :data:`imgproc.encode.OUTPUT_EXTENSIONS`). For a file
    given directly the relative dir is empty; for a file found in a folder it is its
    sub-folder inside that folder (``photos/2024/a.heic`` given as ``photos`` ->
    ``OUTDIR/2024/a.jpg``).

    Collisions are resolved from the input names alone, before any processing, so the
    mapping is deterministic whatever the images turn out to be. Names are compared
    case-insensitively (``A.jpg`` and ``a.png`` collide, as they would on macOS or
    Windows). Inputs with a unique ``<relative dir>/<stem>`` keep their stem. When
    several inputs share one, each gets its lower-cased input extension appended:
    ``a.jpg`` -> ``a_jpg.jpg``, ``a.png`` -> ``a_png.png`` (or ``a_png.jpg`` if it is
    opaque). If that is still taken, ``_2``, ``_3``... follow, in input order. An
    existing file at an output path (an earlier run) is replaced.

OUTDIR must not hold the inputs (:func:`check_out_dir`)
    The originals are never overwritten. Before anything is processed, the command is
    refused as a usage error (exit 2) when

    - OUTDIR is a folder given as INPUT, or the folder holding a file given as INPUT
      (``imgproc resize photos --out photos``, ``imgproc resize photos/a.jpg --out
      photos``): the outputs would sit among the originals, replace those whose names
      match (``a.png`` -> ``a.jpg`` over the user's own ``a.jpg``, even one that is
      not an input because it is hidden or not named), and be taken for inputs by
      the next run; or
    - OUTDIR lies inside a folder given as INPUT (``imgproc resize photos --out
      photos/small``): this run would skip it, but any other run over ``photos`` (another
      ``--out``, the batch form, a backup tool) takes the renditions for photos and
      resizes its own outputs again; or
    - any planned output path (with any of the output extensions), or another file
      the caller writes there (the batch form's ``results.jsonl``), is an existing
      input file.

    All compare file identity (device and inode), so symlinks, hard links and
    case-insensitive file systems are seen through. The message suggests an OUTDIR
    beside the folder (``photos-resized``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from imgproc.encode import OUTPUT_EXTENSIONS
from imgproc.sniff import IMAGE_SUFFIXES


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


def file_identity(path: Path) -> tuple[int, int] | None:
    """``(st_dev, st_ino)`` of what ``path`` points to, or ``None`` when it does not exist."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def collect_inputs(
    inputs: Sequence[Path], out_dir: Path | None, *, missing_ok: bool = False
) -> list[tuple[Path, PurePath]]:
    """Expand INPUT arguments into ``(path, relative name)`` pairs, in order.

    The relative name is the file name for a file argument and the path inside the
    folder for a walked file; it decides the output name. Duplicates (same resolved
    file) are kept once, at their first position. ``out_dir`` (``None``: no outputs)
    is never walked into.

    Args:
        missing_ok: an argument that does not exist is kept as a file (the caller
            reports it) instead of being a usage error.

    Raises:
        UsageError: an argument does not exist (unless ``missing_ok``), or cannot be
            accessed, or is neither a regular file nor a folder.
    """
    skip_dir = _resolve(out_dir) if out_dir is not None else None
    found: list[tuple[Path, PurePath]] = []
    seen: set[Path] = set()
    for arg in inputs:
        try:
            mode = arg.stat().st_mode
        except FileNotFoundError:
            if missing_ok:
                mode = stat.S_IFREG
            else:
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


def check_out_dir(
    inputs: Sequence[Path],
    out_dir: Path,
    tasks: Sequence[Task],
    *,
    also_written: Sequence[Path] = (),
) -> None:
    """Refuse a plan that could overwrite an original (module docstring, "OUTDIR must not...").

    Args:
        inputs: the INPUT arguments (files and folders); those that do not exist are
            passed over.
        out_dir: OUTDIR as given (it may not exist yet).
        tasks: the planned outputs, from :func:`plan_outputs`.
        also_written: other files the caller writes (a results file, say).

    Raises:
        UsageError: OUTDIR is an input folder or inside one, or a planned output path is
            an input file, or OUTDIR holds an input file; checked in that order. The
            message names what would be overwritten and suggests another ``--out``.
    """
    advice = f"choose another --out (for example {out_dir / 'resized'})"
    out_id = file_identity(out_dir)
    around_out = [file_identity(folder) for folder in _resolve(out_dir).parents]
    held: Path | None = None
    for arg in inputs:
        arg_id = file_identity(arg)
        if arg_id is None or not arg.is_dir():
            continue
        beside = _resolve(arg).parent / f"{_resolve(arg).name}-resized"
        if arg_id == out_id:
            msg = (
                f"--out {out_dir} is the input folder {arg}: the outputs would replace or "
                f"mix with the originals; choose another --out (for example {beside})"
            )
            raise UsageError(msg)
        if arg_id in around_out:
            msg = (
                f"--out {out_dir} is inside the input folder {arg}: the next run over {arg} "
                f"would take the outputs for originals and resize them again; choose an "
                f"--out outside it (for example {beside})"
            )
            raise UsageError(msg)
    for arg in inputs:
        arg_id = file_identity(arg)
        if out_id is None or arg_id is None:
            continue
        if held is None and not arg.is_dir() and file_identity(arg.parent) == out_id:
            held = arg
    held_note = f" (and --out {out_dir} holds the input {held})" if held is not None else ""

    input_ids = {file_identity(task.input_path): task.input_path for task in tasks}
    input_ids.pop(None, None)
    targets = [
        (f"the rendition of {task.input_path}", output_path(task.output_base, ext))
        for task in tasks
        for ext in OUTPUT_EXTENSIONS
    ]
    targets.extend((path.name, path) for path in also_written)
    for what, target in targets:
        original = input_ids.get(file_identity(target))
        if original is not None:
            msg = (
                f"--out {out_dir}: {what} would be written to {target}, which is the input "
                f"{original}; originals are never overwritten{held_note}; {advice}"
            )
            raise UsageError(msg)
    if held is not None:
        msg = (
            f"--out {out_dir} holds the input {held}: the outputs would replace or mix "
            f"with the originals; {advice}"
        )
        raise UsageError(msg)


def output_path(output_base: Path, extension: str) -> Path:
    """Where an output goes once its format is known: ``OUTDIR/2024/a`` + ``jpg`` ->
    ``OUTDIR/2024/a.jpg`` (``extension`` without the dot)."""
    return output_base.with_name(f"{output_base.name}.{extension}")
