"""Where ``imgproc resize`` writes the renditions of a set, and the checks made before.

Naming (``--preset`` / ``--renditions``)
    The primary (first) rendition keeps the single-rendition name
    ``OUTDIR/<relative dir>/<stem>.<ext>`` (:mod:`imgproc.cli_plan`), so the
    ``default`` preset writes exactly what the command always wrote. Every other
    rendition goes into a folder named after that output's stem:
    ``OUTDIR/<relative dir>/<stem>/<name>.<ext>`` (``a.jpg`` with ``--preset web``:
    ``OUTDIR/a.jpg``, ``OUTDIR/a/w320.avif``, ``OUTDIR/a/w320.webp``,
    ``OUTDIR/a/w320.jpg``, ...), as the pipeline keys them under the source's key.
    One folder delete removes them all.

Refused before anything is processed (a usage error, exit 2)
    - a planned rendition path that is an existing input file (originals are never
      overwritten; compared by device and inode);
    - two inputs whose outputs would share a path: a folder walk holding ``a.jpg``
      and ``a/w320.jpg`` with ``--preset web`` would write both ``a``'s ``w320``
      rendition and ``a/w320.jpg``'s primary to ``OUTDIR/a/w320.jpg``. Paths are
      compared case-insensitively (as on macOS and Windows).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from imgproc.cli_plan import Task, UsageError, file_identity, output_path
from imgproc.renditions import AUTO, AVIF, JPEG, PNG, WEBP, RenditionSet
from imgproc.result import RenditionResult, SetResult

_EXTENSIONS = {
    AUTO: ("jpg", "png"),
    JPEG: ("jpg",),
    PNG: ("png",),
    WEBP: ("webp",),
    AVIF: ("avif",),
}


def primary_path(task: Task, extension: str) -> Path:
    """``OUTDIR/<relative dir>/<stem>.<extension>``: the primary rendition's file."""
    return output_path(task.output_base, extension)


def rendition_path(task: Task, file_name: str) -> Path:
    """``OUTDIR/<relative dir>/<stem>/<file_name>``: any other rendition's file."""
    return task.output_base / file_name


def output_paths(task: Task, results: Sequence[RenditionResult]) -> list[Path]:
    """The file for each made rendition, in order (the first is the primary)."""
    return [
        primary_path(task, r.extension) if i == 0 else rendition_path(task, r.file_name)
        for i, r in enumerate(results)
    ]


def possible_paths(task: Task, renditions: RenditionSet) -> list[Path]:
    """Every path the set could write for ``task`` (``auto`` may end in .jpg or .png)."""
    paths: list[Path] = []
    for i, rendition in enumerate(renditions):
        for ext in _EXTENSIONS[rendition.format]:
            if i == 0:
                paths.append(primary_path(task, ext))
            else:
                paths.append(rendition_path(task, f"{rendition.name}.{ext}"))
    return paths


def check_rendition_outputs(tasks: Sequence[Task], renditions: RenditionSet) -> None:
    """Refuse a plan whose rendition files would overwrite an input or each other.

    Raises:
        UsageError: naming the two inputs (or the input file) and the shared path.
    """
    if len(renditions) == 1:
        return  # one file per input: cli_plan's names are unique and checked already
    inputs = {file_identity(t.input_path): t.input_path for t in tasks}
    inputs.pop(None, None)
    owners: dict[str, Task] = {}
    for task in tasks:
        for path in possible_paths(task, renditions):
            original = inputs.get(file_identity(path))
            if original is not None:
                msg = (
                    f"a rendition of {task.input_path} would be {path}, which is the input "
                    f"{original}: originals are never overwritten; choose another --out"
                )
                raise UsageError(msg)
            key = path.as_posix().casefold()
            owner = owners.setdefault(key, task)
            if owner is not task:
                msg = (
                    f"{owner.input_path} and {task.input_path} would both write {path} "
                    "(a rendition folder meets a file of the same name); rename one of "
                    "them or process them in separate runs"
                )
                raise UsageError(msg)


def set_record(result: SetResult, outputs: Sequence[Path]) -> dict[str, object]:
    """The set's part of a ``processed`` record (see :mod:`imgproc.cli_report`).

    ``renditions``: one object per written file, the primary first: ``name``,
    ``output``, ``format``, ``content_type``, ``width``, ``height``, ``bytes``,
    ``has_alpha``. ``collapsed``: renditions not written because an earlier one is
    the same image (``name``, ``format``, ``same_as``, ``same_as_output``). Plus
    ``upright_width``, ``upright_height``, ``sha256``, ``animated``,
    ``dominant_color`` and ``blurhash``.
    """
    record = result.facts()
    by_file = {r.file_name: path for r, path in zip(result.renditions, outputs, strict=True)}
    record["renditions"] = [
        {"name": r.name, "output": str(path), **r.facts()}
        for r, path in zip(result.renditions, outputs, strict=True)
    ]
    record["collapsed"] = [
        {**c.facts(), "same_as_output": str(by_file[c.same_as])} for c in result.collapsed
    ]
    return record
