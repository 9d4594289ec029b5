"""The batch form: ``python -m deploy.local FILES...`` as a subprocess (Contract 4).

Exit 0 and a summary table when every image was processed; exit 1 when one was not.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.e2e.conftest import ROOT, quadrant_jpeg


def run_local(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deploy.local", "--api-port", "0", "--emulator-port", "0",
         "--timeout", "30", *args],
        cwd=cwd, capture_output=True, text=True, timeout=90, check=False,
    )


def table_rows(stdout: str) -> dict[str, str]:
    """Summary table rows by their first cell (the file as given)."""
    return {line.split("│")[1].strip(): line for line in stdout.splitlines()
            if line.startswith("│") and line.split("│")[1].strip()}


def test_folder_of_images_exits_0_with_table(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    (folder / "nested").mkdir(parents=True)
    (folder / "one.jpg").write_bytes(quadrant_jpeg((1000, 800)))
    (folder / "nested" / "two.jpeg").write_bytes(quadrant_jpeg((300, 200)))
    (folder / "notes.txt").write_text("not an image, not picked from a folder")
    # Noise does not compress: over the API's 4.5 MB body limit, so it goes by POST /uploads.
    noise = Image.frombytes("RGB", (3000, 2000), random.Random(7).randbytes(3000 * 2000 * 3))
    noise.save(folder / "big.jpg", quality=95)
    assert (folder / "big.jpg").stat().st_size > 4_500_000

    out = tmp_path / "out"
    done = run_local(str(folder), "--out", str(out))

    assert done.returncode == 0, done.stderr[-3000:]
    ready_line, *table = done.stdout.splitlines()
    ready = json.loads(ready_line)
    assert list(ready) == ["api_url", "endpoint_url", "uploads_bucket", "processed_bucket",
                           "table", "region"]
    text = "\n".join(table)
    assert "one.jpg" in text and "two.jpeg" in text and "notes.txt" not in text
    assert text.count("processed") >= 2
    assert "1000x800" in text and "500x400" in text and "300x200" in text
    assert "3 of 3 processed" in text
    assert "queued" in done.stderr  # the journey, on stderr
    assert "presigned S3 upload" in done.stderr
    # The renditions, saved under --out with the folder's layout, and every item.
    lines = (out / "results.jsonl").read_text().splitlines()
    results = {Path(r["file"]).name: r for r in map(json.loads, lines)}
    assert {name: r["status"] for name, r in results.items()} == {
        "one.jpg": "processed", "two.jpeg": "processed", "big.jpg": "processed"}
    one_path, two_path = Path(results["one.jpg"]["output"]), Path(results["two.jpeg"]["output"])
    assert one_path.parent == out and two_path.parent == out / "nested"
    with Image.open(one_path) as one, Image.open(two_path) as two:
        assert (one.format, one.size) == ("JPEG", (500, 400))
        assert two.size == (300, 200)  # never upscaled
    assert results["one.jpg"]["item"]["processed_width"] == 500


def test_a_bad_file_exits_1(tmp_path: Path) -> None:
    (tmp_path / "good.jpg").write_bytes(quadrant_jpeg((600, 400)))
    (tmp_path / "cut.jpg").write_bytes(quadrant_jpeg((900, 600))[:2500])
    (tmp_path / "notes.jpg").write_bytes(b"this is not a jpeg at all")

    done = run_local("good.jpg", "cut.jpg", "notes.jpg", "missing.png", cwd=tmp_path)

    assert done.returncode == 1, done.stderr[-3000:]
    rows = table_rows(done.stdout)
    assert "processed" in rows["good.jpg"] and "500x333" in rows["good.jpg"]
    assert "rejected (truncated)" in rows["cut.jpg"] or "rejected (corrupt)" in rows["cut.jpg"]
    # refused by the API: not an image
    assert "error (HTTP 415 unsupported_media_type" in rows["notes.jpg"]
    assert "missing" in rows["missing.png"]
    assert "1 of 4 processed" in done.stdout
