"""The batch form: ``python -m deploy.local FILES...`` as a subprocess (Contract 4).

Exit 0 and a summary table when every image was processed; exit 1 when one was not;
exit 2, naming the port and its flag, when a port is taken (before any resource exists).
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from imgproc.cli_report import human_size
from tests.e2e.conftest import LOCAL_PIPELINE, ROOT, quadrant_jpeg


def run_local(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *LOCAL_PIPELINE,
            "--timeout",
            "30",
            *args,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def table_rows(stdout: str) -> dict[str, str]:
    """Summary table rows by their first cell (the file as given)."""
    return {
        line.split("│")[1].strip(): line
        for line in stdout.splitlines()
        if line.startswith("│") and line.split("│")[1].strip()
    }


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

    # A previous run's --out: what it listed goes, the user's own file there stays.
    out = tmp_path / "out"
    (out / "gone").mkdir(parents=True)
    stale = quadrant_jpeg((64, 64))
    (out / "gone" / "stale.jpg").write_bytes(stale)
    (out / "mine.txt").write_text("the user's own file")
    previous = {
        "output": str(out / "gone" / "stale.jpg"),
        "item": {"processed_size_bytes": len(stale)},
    }
    (out / "results.jsonl").write_text(json.dumps(previous) + "\n")
    done = run_local(str(folder), "--out", str(out))

    assert done.returncode == 0, done.stderr[-3000:]
    ready_line, *table = done.stdout.splitlines()
    ready = json.loads(ready_line)
    assert list(ready) == [
        "api_url",
        "endpoint_url",
        "uploads_bucket",
        "processed_bucket",
        "table",
        "region",
        "dlq_url",  # added after Contract 4's six keys
    ]
    assert ready["dlq_url"].endswith("/image-uploads-events-dlq")
    text = "\n".join(table)
    assert "one.jpg" in text and "two.jpeg" in text and "notes.txt" not in text
    assert not (out / "gone").exists() and (out / "mine.txt").exists()
    assert "removed 1 rendition the previous run wrote" in done.stderr
    assert text.count("processed") >= 2
    assert "1000x800" in text and "500x400" in text and "300x200" in text
    assert "3 of 3 processed" in text
    assert "queued" in done.stderr  # the journey, on stderr
    assert "presigned S3 upload" in done.stderr
    # Decimal sizes, as the API states its 4.5 MB limit.
    big_size = (folder / "big.jpg").stat().st_size
    assert f"{big_size / 1_000_000:,.2f} MB" in text and human_size(big_size) in text
    # For a person: an upload with curl, and AWS CLI lines that work without an AWS config.
    assert f"curl -F file=@photo.jpg {ready['api_url']}/images" in done.stderr
    assert (
        f"AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x aws --endpoint-url "
        f"{ready['endpoint_url']} s3 ls s3://image-processed"
    ) in done.stderr
    assert "download_url values in results.jsonl stop working when this run exits" in done.stderr
    # Each POST /images upload is logged as uploaded before its event is queued.
    for name in ("one.jpg", "two.jpeg"):
        image_id = re.search(rf"uploaded +([0-9a-f]{{32}}) {name} ", done.stderr)
        assert image_id, name
        uploaded_at = done.stderr.index(image_id.group(0))
        queued_at = done.stderr.index(f"queued     {image_id.group(1)}")
        assert uploaded_at < queued_at, name
    # The renditions, saved under --out with the folder's layout, and every item.
    lines = (out / "results.jsonl").read_text().splitlines()
    results = {Path(r["file"]).name: r for r in map(json.loads, lines)}
    assert {name: r["status"] for name, r in results.items()} == {
        "one.jpg": "processed",
        "two.jpeg": "processed",
        "big.jpg": "processed",
    }
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

    done = run_local("good.jpg", "cut.jpg", "notes.jpg", cwd=tmp_path)

    assert done.returncode == 1, done.stderr[-3000:]
    rows = table_rows(done.stdout)
    assert "processed" in rows["good.jpg"] and "500x333" in rows["good.jpg"]
    assert "rejected (truncated)" in rows["cut.jpg"] or "rejected (corrupt)" in rows["cut.jpg"]
    # refused by the API as not an image: the engine's vocabulary, the HTTP detail aside
    assert "rejected (unsupported_format)" in rows["notes.jpg"]
    assert "HTTP 415" not in rows["notes.jpg"]
    assert "1 of 3 processed" in done.stdout
    results = {
        r["file"]: r
        for r in map(json.loads, (tmp_path / "out" / "results.jsonl").read_text().splitlines())
    }
    assert results["notes.jpg"]["status"] == "rejected"
    assert results["notes.jpg"]["reason"] == "unsupported_format"
    assert results["notes.jpg"]["message"].startswith("HTTP 415 unsupported_format: ")
    assert results["cut.jpg"]["status"] == "rejected"
    assert results["cut.jpg"]["reason"] == results["cut.jpg"]["item"]["error_reason"]
    assert results["good.jpg"]["reason"] is None and results["good.jpg"]["message"] is None


def test_a_path_that_does_not_exist_is_a_usage_error_before_anything_starts(
    tmp_path: Path,
) -> None:
    (tmp_path / "good.jpg").write_bytes(quadrant_jpeg((600, 400)))

    done = run_local("good.jpg", "missing.png", "no/such/folder", cwd=tmp_path)

    assert done.returncode == 2
    assert done.stdout == ""  # no ready line: nothing was started
    assert "no such file or folder: missing.png, no/such/folder" in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port something else is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize("flag", ["--api-port", "--emulator-port"])
def test_a_taken_port_exits_2_naming_it_before_creating_anything(
    busy_port: int, flag: str, tmp_path: Path
) -> None:
    other = "--emulator-port" if flag == "--api-port" else "--api-port"
    (tmp_path / "never.jpg").write_bytes(quadrant_jpeg((64, 64)))  # never uploaded
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "deploy.local",
            flag,
            str(busy_port),
            other,
            "0",
            str(tmp_path / "never.jpg"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-3000:]
    assert done.stdout == ""  # no ready line
    message = " ".join(done.stderr.split())  # the console may wrap long lines
    assert (
        f"cannot start the local pipeline: port {busy_port} ({flag}) is already in use "
        f"on 127.0.0.1; stop what uses it or pass {flag} 0 for a free port"
    ) in message
    assert "created" not in done.stderr and "Traceback" not in done.stderr


def usage_error(done: subprocess.CompletedProcess[str]) -> str:
    """The one-line complaint of a run that stopped before starting anything (exit 2)."""
    assert done.returncode == 2, done.stderr[-3000:]
    assert done.stdout == ""  # no ready line
    assert "Traceback" not in done.stderr and "created" not in done.stderr
    return " ".join(done.stderr.split())


@pytest.mark.parametrize(
    ("flags", "complaint"),
    [
        (["--max-dim", "0"], "argument --max-dim: expected an integer of at least 1, got '0'"),
        (
            ["--batch-size", "11"],
            "argument --batch-size: expected an integer from 1 to 10, got '11'",
        ),
        (["--workers", "0"], "argument --workers: expected an integer of at least 1, got '0'"),
        (["--api-port", "70000"], "argument --api-port: expected an integer from 0 to 65535"),
        (["--timeout", "-1"], "argument --timeout: expected a positive number, got '-1'"),
        (["--max-receives", "0"], "argument --max-receives: expected an integer from 1 to 1000"),
    ],
)
def test_bad_flags_are_usage_errors_before_the_ready_line(
    flags: list[str], complaint: str, tmp_path: Path
) -> None:
    done = run_local(*flags, str(tmp_path / "never.jpg"))
    assert complaint in usage_error(done)


def test_bad_handler_settings_are_a_start_error_before_the_ready_line(tmp_path: Path) -> None:
    (tmp_path / "never.jpg").write_bytes(quadrant_jpeg((64, 64)))  # never uploaded
    done = subprocess.run(
        [
            *LOCAL_PIPELINE,
            str(tmp_path / "never.jpg"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "MAX_PIXELS": "lots", "API_MAX_BODY_BYTES": "-1"},
    )
    message = usage_error(done)
    assert "cannot start the local pipeline: bad configuration: " in message
    assert "MAX_PIXELS='lots' is invalid" in message
    assert "API_MAX_BODY_BYTES='-1' is invalid" in message


def test_out_that_would_overwrite_an_input_is_refused(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.jpg").write_bytes(quadrant_jpeg((64, 64)))
    (tmp_path / "b.jpg").write_bytes(quadrant_jpeg((64, 64)))

    done = run_local("b.jpg", "--out", ".", cwd=tmp_path)
    assert (
        "--out .: the rendition of b.jpg would be written to b.jpg, which is the input "
        "b.jpg; originals are never overwritten"
    ) in usage_error(done)

    done = run_local("photos", "--out", "photos", cwd=tmp_path)
    assert "--out photos is the input folder photos" in usage_error(done)
    assert (photos / "a.jpg").read_bytes() == quadrant_jpeg((64, 64))


def test_stdout_holds_only_the_ready_line_and_the_table_past_100_uploads(
    tmp_path: Path,
) -> None:
    # Powertools prints a metric's values on stdout once it holds 100 of them, even with
    # metrics disabled: from the 100th API upload on, without the runner's guard.
    folder = tmp_path / "many"
    folder.mkdir()
    tiny = quadrant_jpeg((32, 24))
    for n in range(101):
        (folder / f"p{n:03d}.jpg").write_bytes(tiny)

    done = run_local(str(folder), "--out", "", "--concurrency", "8", "-q")

    assert done.returncode == 0, done.stderr[-3000:]
    ready_line, *table = done.stdout.splitlines()
    assert set(json.loads(ready_line)) >= {"api_url", "endpoint_url"}
    assert not [line for line in table if line.lstrip().startswith("{")]
    assert len(table_rows(done.stdout)) == 101
    assert "101 of 101 processed" in table[-1]
