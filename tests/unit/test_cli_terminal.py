"""``imgproc resize`` on a real terminal of 80 and 100 columns (a pseudo-terminal).

Status and reason are whole at any width (rich used to squeeze the ``output / reason``
column out at 80); columns that do not fit are dropped, sizes first. File names are
printed escaped. Plus the two pure helpers behind that: ``printable`` and ``upright_size``.
"""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image

from imgproc.cli_report import printable
from imgproc.orientation import upright_size
from tests.unit.images import png_declaring

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TRICKY = "tab\there \u202egpj.jpg"  # a real file name on Linux


def run_on_terminal(columns: int, *args: str | Path) -> str:
    """Run ``python -m imgproc resize ARGS`` with stdout on a pty of ``columns`` columns."""
    primary, secondary = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "50", "NO_COLOR": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "imgproc", "resize", *map(str, args)],
        cwd=ROOT,
        stdout=secondary,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    os.close(secondary)
    data = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        data += chunk
    os.close(primary)
    assert process.wait(timeout=60) == 1  # one input rejected
    return ANSI.sub("", data.decode()).replace("\r\n", "\n")


def jpeg(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("photos") / "a rather long folder name for holidays"
    folder.mkdir()
    (folder / "holiday_photo_from_the_beach.jpg").write_bytes(jpeg((1000, 750)))
    (folder / "notes_that_are_not_an_image.jpg").write_text("just text, whatever the name says")
    (folder / "bomb_declaring_twenty_thousand.png").write_bytes(png_declaring((20000, 20000)))
    (folder / TRICKY).write_bytes(jpeg((64, 48)))
    return folder


@pytest.mark.parametrize("columns", [80, 100])
def test_status_and_reason_are_whole_at_terminal_widths(
    inputs: Path, tmp_path: Path, columns: int
) -> None:
    text = run_on_terminal(columns, inputs, "--out", tmp_path / "out")

    lines = text.splitlines()
    assert max(len(line) for line in lines) <= columns
    table = "\n".join(line for line in lines if line.startswith("│"))
    assert table.count(" processed ") == 2 and table.count(" rejected ") == 2
    for code in ("unsupported_format:", "too_many_pixels:"):
        assert code in table  # never folded
    assert "\t" not in text and "\u202e" not in text
    assert "tab\\there" in table.replace("│", "").replace(" ", "")
    assert "2 processed, 2 rejected, 0 failed" in " ".join(text.split())


def test_wide_enough_every_column_shows(inputs: Path, tmp_path: Path) -> None:
    text = run_on_terminal(250, inputs, "--out", tmp_path / "out")
    assert "kB in -> out" in text and "original -> output" in text
    assert "1000x750 JPEG -> 500x375 JPEG" in text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain name.jpg", "plain name.jpg"),
        ("a\nb\tc\rd", "a\\nb\\tc\\rd"),
        ("\x1b[31mred\x7f", "\\x1b[31mred\\x7f"),
        ("abc\u202edef\u2066\u200b", "abc\\u202edef\\u2066\\u200b"),
        ("line\u2028sep", "line\\u2028sep"),
        ("bad\udcffbyte", "bad\\udcffbyte"),  # an undecodable file name byte
        ("ünïcödé 写真 😀", "ünïcödé 写真 😀"),  # printable stays as it is
        ("C:\\photos\\a.jpg", "C:\\photos\\a.jpg"),  # backslashes too
    ],
)
def test_printable_escapes_what_a_terminal_would_act_on(text: str, shown: str) -> None:
    assert printable(text) == shown
    assert printable(printable(text)) == shown  # escaping twice changes nothing


@pytest.mark.parametrize(
    ("orientation", "size"),
    [
        (None, (450, 600)),
        (1, (450, 600)),
        (3, (450, 600)),
        (5, (600, 450)),
        (6, (600, 450)),
        (Decimal(8), (600, 450)),  # as DynamoDB gives it back
        (True, (450, 600)),
        (9, (450, 600)),
        ("6", (450, 600)),
    ],
)
def test_upright_size_swaps_sides_for_orientations_5_to_8(
    orientation: object, size: tuple[int, int]
) -> None:
    assert upright_size(450, 600, orientation) == size
