"""What the batch form prints and where it leaves files, without a pipeline.

The summary table reads at 80 and 100 columns (status and reason whole), names are printed
escaped, the lines under it say nothing about a rate or renditions when nothing was
processed, and a run under ``--out`` first removes what the previous run wrote there, and
nothing else.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from deploy.local import batch
from deploy.local.batch import (
    RESULTS_FILE,
    ImageOutcome,
    Source,
    forget_previous_run,
    run_batch,
    summary_table,
)
from deploy.local.runner import summary_lines

HOSTILE = "evil\nprocessed  x 1x1 -> 1x1\t\u202egpj.exe"
REASONS = ("unsupported_format", "too_many_pixels", "connection_error", "timeout")


def outcomes() -> list[ImageOutcome]:
    long_folder = Path("/home/someone/Pictures/holidays/2024/a very long folder name")
    return [
        ImageOutcome(
            Path("demo-images/phone_portrait_exif6.jpg"),
            "processed",
            "a" * 32,
            original_size_bytes=2_100_000,
            original_dims=(3024, 4032),
            processed_size_bytes=48_200,
            processed_dims=(375, 500),
            elapsed_s=1.23,
        ),
        ImageOutcome(
            long_folder / "notes.jpg",
            "rejected",
            "c" * 32,
            "unsupported_format",
            "HTTP 415 unsupported_format: expected an image (JPEG, PNG, GIF, WebP, TIFF, "
            "BMP, HEIC or AVIF)",
            elapsed_s=0.1,
        ),
        ImageOutcome(
            Path("big.tif"),
            "rejected",
            "d" * 32,
            "too_many_pixels",
            "expected at most 100000000 pixels, got 20000x20000",
            original_size_bytes=5_000_000,
        ),
        ImageOutcome(
            Path("down.jpg"),
            "error",
            None,
            "connection_error",
            "HTTPConnectionPool(host='127.0.0.1', port=8080): Max retries exceeded",
        ),
        ImageOutcome(Path(HOSTILE), "pending", "e" * 32, "timeout", "not final after 120 s"),
    ]


def render(width: int) -> str:
    """The table as a terminal ``width`` columns wide shows it (no colour codes)."""
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(summary_table(outcomes(), width=width))
    return out.getvalue()


def columns(text: str) -> dict[str, list[str]]:
    """Each column's text, row by row (a folded cell's lines joined with a space). A row
    starts where the status column, one line per row, has its word."""
    header = next(line for line in text.splitlines() if line.startswith("┃"))
    titles = [t.strip() for t in header.split("┃")[1:-1]]
    rows: list[list[list[str]]] = []
    for line in text.splitlines():
        if line.startswith("│"):
            parts = [p.strip() for p in line.split("│")[1:-1]]
            if parts[titles.index("status")]:
                rows.append([[] for _ in titles])
            for cell, part in zip(rows[-1], parts, strict=True):
                cell.append(part)
    return {
        title: [" ".join(p for p in row[i] if p) for row in rows] for i, title in enumerate(titles)
    }


@pytest.mark.parametrize("width", [80, 100])
def test_the_table_reads_at_terminal_widths(width: int) -> None:
    text = render(width)

    assert max(len(line) for line in text.splitlines()) <= width
    table = columns(text)
    assert table["status"] == ["processed", "rejected", "rejected", "error", "pending"]
    reasons = table["reason"]
    for reason, code in zip(reasons[1:], REASONS, strict=True):
        assert reason.startswith(f"{code}: ")  # whole, first, beside its message
    assert reasons[1] == (
        "unsupported_format: expected an image (JPEG, PNG, GIF, WebP, TIFF, BMP, HEIC or AVIF)"
    )  # words whole (the HTTP detail stays in results.jsonl)
    assert "3024x4032 -> 375x500" in text  # the original upright beside its rendition


def test_wide_the_table_keeps_every_column_on_one_line_per_row() -> None:
    text = render(200)
    header = next(line for line in text.splitlines() if line.startswith("┃"))
    assert [t.strip() for t in header.split("┃")[1:-1]] == [
        "file",
        "image_id",
        "status",
        "original",
        "rendition",
        "time",
        "message",
    ]
    assert "rejected (unsupported_format)" in text and "error (connection_error)" in text
    assert "3024x4032, 2.10 MB" in text and "375x500, 48.2 kB" in text


@pytest.mark.parametrize("width", [80, 200])
def test_names_are_printed_escaped(width: int) -> None:
    text = render(width)
    assert "\u202e" not in text and "\t" not in text
    assert not any(line.lstrip("│ ").startswith("processed  x") for line in text.splitlines())
    joined = "".join(columns(text)["file"][-1].split())
    assert joined == r"evil\nprocessedx1x1->1x1\t\u202egpj.exe"


def test_nothing_processed_says_no_rate_and_no_renditions(tmp_path: Path) -> None:
    failed = [ImageOutcome(Path("a.jpg"), "error", reason="io_error", message="gone")]
    assert summary_lines(failed, 0.4, tmp_path / "out") == [
        "0 of 1 processed in 0.4 s",
        f"no renditions saved; every outcome in {tmp_path / 'out' / RESULTS_FILE}",
    ]
    done = [
        ImageOutcome(Path("a.jpg"), "processed", output=tmp_path / "out" / "a.jpg"),
        *failed,
    ]
    lines = summary_lines(done, 0.5, tmp_path / "out")
    assert lines[0] == "1 of 2 processed in 0.5 s (2.00 images/s)"
    assert lines[1] == (
        f"this run's 1 rendition saved under {tmp_path / 'out'}/, every outcome in "
        f"{tmp_path / 'out' / RESULTS_FILE}"
    )
    assert summary_lines(failed, 0.4, None) == ["0 of 1 processed in 0.4 s"]


def test_a_rendition_set_counts_every_file_saved(tmp_path: Path) -> None:
    out = tmp_path / "out"
    files = [out / "a.jpg", *(out / "a" / f"w320.{ext}" for ext in ("avif", "webp", "jpg"))]
    done = [
        ImageOutcome(Path(f"{name}.jpg"), "processed", output=files[0], outputs=files)
        for name in ("a", "b")
    ]
    assert summary_lines(done, 1.0, out)[1] == (
        f"this run's 8 renditions of 2 images saved under {out}/, every outcome in "
        f"{out / RESULTS_FILE}"
    )


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_a_run_removes_what_the_previous_run_listed_and_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "out"
    listed = write(out / "2024" / "june" / "a.jpg", b"a" * 10)
    listed_png = write(out / "b.png", b"b" * 20)
    edited = write(out / "c.jpg", b"the user replaced it")  # not the size that run wrote
    mine = write(out / "notes.txt", b"the user's own")
    outside = write(tmp_path / "elsewhere.jpg", b"e" * 5)
    an_input = write(out / "input.jpg", b"i" * 7)  # an input of this run, listed by mistake
    escape = out / "link"
    escape.symlink_to(tmp_path, target_is_directory=True)
    records = [
        (listed, 10),
        (listed_png, 20),
        (edited, 3),
        (outside, 5),
        (out / ".." / "elsewhere.jpg", 5),
        (escape / "elsewhere.jpg", 5),
        (an_input, 7),
        (out / "never-written.jpg", 1),
    ]
    lines = [
        json.dumps({"file": "x", "output": str(path), "item": {"processed_size_bytes": size}})
        for path, size in records
    ]
    lines += ["not json", json.dumps({"file": "y", "output": None})]
    (out / RESULTS_FILE).write_text("\n".join(lines) + "\n")

    removed = forget_previous_run(out, keep=[an_input])

    assert removed == [listed, listed_png]
    assert not (out / "2024").exists()  # emptied folders go too
    for kept in (edited, mine, outside, an_input, out / RESULTS_FILE):
        assert kept.exists(), kept
    assert forget_previous_run(tmp_path / "no such folder") == []


def test_results_list_each_image_as_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed half-way still leaves the list of what it wrote (results.jsonl grows
    line by line), so the next run can remove it."""
    seen: list[list[str]] = []
    out = tmp_path / "out"

    def process_one(api_url: str, source: Source, **_: object) -> ImageOutcome:
        seen.append((out / RESULTS_FILE).read_text().splitlines())
        rendition = write(out / f"{source.output_base}.jpg", b"r")
        return ImageOutcome(source.path, "processed", output=rendition)

    monkeypatch.setattr(batch, "process_one", process_one)
    sources = [Source(Path(f"{n}.png"), Path(n)) for n in ("a", "b", "c")]
    run_batch("http://unused", sources, concurrency=1, out_dir=out)

    assert [len(lines) for lines in seen] == [0, 1, 2]
    assert json.loads(seen[-1][-1])["output"] == str(out / "b.jpg")
    final = [json.loads(line)["file"] for line in (out / RESULTS_FILE).read_text().splitlines()]
    assert final == ["a.png", "b.png", "c.png"]
