"""Reporting for ``imgproc resize``: JSON Lines, or a progress bar and a summary table.

Records
    One JSON-ready dict per input, in input order. ``--json`` prints each as one line
    on stdout (JSON Lines)::

        {"input": "a.jpg", "status": "processed", "output": "OUTDIR/a.jpg",
         "width": 500, "height": 333, "format": "JPEG", ...Result.facts()...,
         "input_size_bytes": 123456, "duration_ms": 41.2}
        {"input": "b.txt", "status": "rejected", "reason": "unsupported_format",
         "message": "..."}
        {"input": "big.png", "status": "rejected", "reason": "too_many_pixels",
         "message": "...", "original_format": "PNG", "original_width": 20000,
         "original_height": 20000, "original_mode": "RGB"}
        {"input": "c.jpg", "status": "failed", "reason": "unreadable", "message": "..."}

    ``processed``: ``width``/``height`` are the output size, upright (EXIF orientation
    applied); ``original_width``/``original_height`` are the input's size *as stored*,
    before orientation (a phone portrait stored 4032x3024 with ``"orientation": 6``
    reports ``original_width`` 4032, ``original_height`` 3024 and an output of 375x500).
    ``size_bytes`` is the output's length, ``input_size_bytes`` the input file's.

    Every ``processed`` record also describes the whole rendition set
    (:func:`imgproc.cli_outputs.set_record`): ``renditions`` lists each file written,
    the primary (the one the fields above describe) first::

        "renditions": [{"name": "default", "output": "OUTDIR/a.jpg", "format": "JPEG",
                        "content_type": "image/jpeg", "width": 500, "height": 333,
                        "bytes": 41234, "has_alpha": false},
                       {"name": "w320", "output": "OUTDIR/a/w320.avif", ...}, ...],
        "collapsed": [], "upright_width": 4000, "upright_height": 2667,
        "sha256": "...", "animated": false, "dominant_color": "#7a5c3e",
        "blurhash": "LKO2?U%2Tw=w]~RBVZRi};RPxuwH"

    ``rejected``: ``reason`` comes from :data:`imgproc.errors.REASONS` (the image is not
    acceptable and never will be). The record also carries the rejection's facts
    (:attr:`imgproc.ImageRejected.facts`, keys among :data:`imgproc.errors.FACT_KEYS`)
    when the engine knew them: ``original_format`` once the format was sniffed, and the
    stored ``original_width``/``original_height`` and ``original_mode`` once the header
    was parsed.

    ``failed`` is the CLI's own status for faults that are not about the image:
    ``unreadable`` (reading the input failed), ``write_failed`` (writing the output
    failed) and ``internal_error`` (the engine raised something other than
    ``ImageRejected``: a bug).

Without ``--json``: a progress bar on stderr, then a summary table and a totals line
on stdout. The table reads at 80 columns: columns that do not fit are dropped (the
``kB in -> out`` sizes first, then ``original -> output``), never ``status`` or
``output / reason`` (:func:`fit_table`). Names are printed through :func:`printable`, so a
file name cannot break a line or reorder the text around it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.table import Column, Table

PROCESSED = "processed"
REJECTED = "rejected"
FAILED = "failed"

UNREADABLE = "unreadable"
WRITE_FAILED = "write_failed"
INTERNAL_ERROR = "internal_error"

Record = dict[str, object]


def print_json_lines(records: Iterable[Record]) -> list[Record]:
    """Print each record as one JSON line on stdout as soon as it arrives; return them all."""
    done: list[Record] = []
    for record in records:
        done.append(record)
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()
    return done


def collect_with_progress(records: Iterable[Record], total: int) -> list[Record]:
    """Consume ``records`` (``total`` of them) under a progress bar on stderr; return them."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    done: list[Record] = []
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[current]}", markup=False),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        bar = progress.add_task("resizing", total=total, current="")
        for record in records:
            done.append(record)
            progress.update(bar, advance=1, current=printable(str(record["input"])))
    return done


def human_size(size_bytes: float) -> str:
    """A byte count for a person, in decimal units (1 MB = 1,000,000 bytes, the unit the
    API states its 4.5 MB limit in): ``15.79 MB``, ``48.2 kB``, ``512 B``.

    Megabytes get two decimals, kilobytes one, bytes none. The one size format of the
    CLI, the local runner's batch table and its journey lines.
    """
    if size_bytes >= 1_000_000:
        return f"{size_bytes / 1_000_000:,.2f} MB"
    if size_bytes >= 1000:
        return f"{size_bytes / 1000:,.1f} kB"
    return f"{int(size_bytes)} B"


MIN_NAME_WIDTH = 12  # a file name column folds, but not narrower than this
MIN_REASON_WIDTH = 24  # a reason column: "unsupported_format: ..." without folding the code
_NAMED_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def printable(text: str) -> str:
    """``text`` safe to print on one terminal line: every character ``str.isprintable``
    refuses (controls such as newline, tab, escape; bidi overrides such as U+202E;
    zero-width and other format characters; line separators; lone surrogates from
    undecodable file names) becomes a visible escape, as ``repr`` writes it: ``\\n``,
    ``\\t``, ``\\x1b``, ``\\u202e``. Backslashes are left alone, so escaping twice
    changes nothing.

    For every name from outside (file names, S3 keys, messages quoting them) that reaches
    a terminal: a key ``a\\nprocessed ...`` cannot forge a log line, nor U+202E hide one.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    if ch in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[ch]
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def fit_table(table: Table, width: int, *, drop: Sequence[str] = ()) -> bool:
    """Make ``table`` read whole within ``width`` terminal columns; whether it could.

    Columns marked ``no_wrap`` are shown whole (a status, a size); the others fold, but
    never below their ``min_width`` (or their content, if narrower). While that does not
    fit, the columns named in ``drop`` are removed, in that order; then the folding columns
    share what is left, each up to its content's width. (Left to itself, rich squeezes
    columns to nothing at 80 columns, or folds ``processed`` into ``proc/esse/d``.)

    Returns False when even without the ``drop`` columns the table needs more than
    ``width`` (then rich folds what it must).
    """
    from rich.cells import cell_len
    from rich.text import Text

    def natural(column: Column) -> int:
        cells = [column.header, *column.cells]
        texts = [c.plain if isinstance(c, Text) else str(c) for c in cells]
        return max((cell_len(line) for text in texts for line in text.splitlines()), default=1)

    def floor(column: Column) -> int:
        return min(column.min_width or 1, natural(column))

    def chrome() -> int:  # borders and padding
        _, right, _, left = table.padding
        edges = len(table.columns) + 1 if table.show_edge else len(table.columns) - 1
        return (edges if table.box else 0) + (left + right) * len(table.columns)

    def needed() -> int:
        return chrome() + sum(natural(c) if c.no_wrap else floor(c) for c in table.columns)

    for name in drop:
        if needed() <= width:
            break
        table.columns[:] = [c for c in table.columns if c.header != name]
        for index, column in enumerate(table.columns):
            column._index = index  # rich keeps each column's position (padding at the edges)
    fits = needed() <= width
    folding = [c for c in table.columns if not c.no_wrap]
    room = width - chrome() - sum(natural(c) for c in table.columns if c.no_wrap)
    wanted = {id(c): natural(c) for c in folding}
    if sum(wanted.values()) <= room:
        return fits
    widths = {id(c): floor(c) for c in folding}
    left = max(0, room - sum(widths.values()))
    hungry = [c for c in folding if widths[id(c)] < wanted[id(c)]]
    while left > 0 and hungry:
        share = max(1, left // len(hungry))
        for column in list(hungry):
            give = min(share, wanted[id(column)] - widths[id(column)], left)
            widths[id(column)] += give
            left -= give
            if widths[id(column)] >= wanted[id(column)]:
                hungry.remove(column)
            if left == 0:
                break
    for column in folding:
        column.width = widths[id(column)]
    return fits


def _count(value: object) -> int:
    """A record's byte count (an int by construction; anything else is a bug)."""
    if not isinstance(value, int):
        msg = f"expected a byte count, got {value!r}"
        raise TypeError(msg)
    return value


def _kb(size_bytes: object) -> str:
    """Decimal kilobytes (1 kB = 1,000 bytes), the unit the pipeline's tables use."""
    return f"{size_bytes / 1000:,.1f}" if isinstance(size_bytes, int) else ""


def _out_bytes(record: Record) -> int:
    """Bytes of every file written for a processed record (all its renditions)."""
    renditions = record.get("renditions")
    if isinstance(renditions, list) and renditions:
        return sum(int(r["bytes"]) for r in renditions)
    return int(record["size_bytes"])  # type: ignore[call-overload]


def _more_files(record: Record) -> str:
    """`` (+9 renditions)`` when a set wrote more than the primary file."""
    renditions = record.get("renditions")
    extra = len(renditions) - 1 if isinstance(renditions, list) else 0
    return f" (+{extra} rendition{'' if extra == 1 else 's'})" if extra > 0 else ""


def _dims(record: Record) -> str:
    """``"WxH FORMAT -> wxh FORMAT"`` for a processed record, what is known for a rejected one."""
    if record["status"] == PROCESSED:
        return (
            f"{record['original_width']}x{record['original_height']} "
            f"{record['original_format']} -> {record['width']}x{record['height']} "
            f"{record['format']}"
        )
    size = ""
    if "original_width" in record and "original_height" in record:
        size = f"{record['original_width']}x{record['original_height']} "
    return f"{size}{record.get('original_format', '')}".strip()


def print_summary(records: Sequence[Record], elapsed_s: float) -> None:
    """Print a table of ``records`` and a totals line on stdout (at least 200 columns
    wide when stdout is not a terminal, so paths are not folded in files and pipes)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title="imgproc resize")
    table.add_column("input", overflow="fold", min_width=MIN_NAME_WIDTH)
    table.add_column("status", no_wrap=True)
    table.add_column("original -> output", no_wrap=True)
    table.add_column("kB in -> out", justify="right", no_wrap=True)
    table.add_column("output / reason", overflow="fold", min_width=MIN_REASON_WIDTH)
    style = {PROCESSED: "green", REJECTED: "yellow", FAILED: "red"}
    for r in records:
        status = str(r["status"])
        if status == PROCESSED:
            sizes = f"{_kb(r['input_size_bytes'])} -> {_kb(_out_bytes(r))}"
            detail = Text(str(r["output"]) + _more_files(r))
        else:
            sizes = ""
            detail = Text(f"{r['reason']}: {r['message']}")
        name, detail = Text(printable(str(r["input"]))), Text(printable(detail.plain))
        row = (name, Text(status, style=style[status]), _dims(r), sizes, detail)
        table.add_row(*row)

    counts = {s: sum(1 for r in records if r["status"] == s) for s in (PROCESSED, REJECTED, FAILED)}
    done = [r for r in records if r["status"] == PROCESSED]
    in_bytes = sum(_count(r["input_size_bytes"]) for r in done)
    out_bytes = sum(_out_bytes(r) for r in done)
    console = Console()
    if not console.is_terminal:  # redirected to a file or a pipe: don't cut at 80 columns
        console = Console(width=max(console.width, 200))
    fit_table(table, console.width, drop=("kB in -> out", "original -> output"))
    if records:
        console.print(table)
    console.print(
        f"{len(records)} input{'' if len(records) == 1 else 's'}: {counts[PROCESSED]} processed, "
        f"{counts[REJECTED]} rejected, {counts[FAILED]} failed; "
        f"{human_size(in_bytes)} in -> {human_size(out_bytes)} out "
        f"(processed inputs) in {elapsed_s:.1f} s",
        highlight=False,
    )
