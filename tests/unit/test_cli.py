"""The ``imgproc resize`` command line (DESIGN.md Contract 1).

Images are generated with Pillow in tmp_path. These tests check what the CLI adds
to the engine: inputs and folder walking, output names and collisions, atomic
writes, JSON Lines, the human summary and exit statuses. Pixel correctness is the
engine's tests' business.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path, PurePath

import pytest
from PIL import Image, ImageDraw

from imgproc import REASONS, cli
from imgproc.cli import main
from imgproc.cli_plan import plan_outputs
from tests.unit.images import png_declaring

PROCESSED_KEYS = {
    "input",
    "status",
    "output",
    "width",
    "height",
    "format",
    "content_type",
    "size_bytes",
    "original_width",
    "original_height",
    "original_format",
    "original_mode",
    "has_alpha",
    "orientation",
    "icc_converted",
    "input_size_bytes",
    "duration_ms",
    # the rendition set (imgproc.cli_outputs.set_record); the default preset has one
    "renditions",
    "collapsed",
    "upright_width",
    "upright_height",
    "sha256",
    "animated",
    "dominant_color",
    "blurhash",
}

REJECTED_KEYS = {"input", "status", "reason", "message"}
FACT_KEYS = {"original_format", "original_width", "original_height", "original_mode"}


# --- fixtures made here ------------------------------------------------------------------------


def photo_jpeg(size: tuple[int, int], quality: int = 90) -> bytes:
    """An opaque RGB JPEG of ``size`` (width, height) with a gradient and a few shapes."""
    width, height = size
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(image)
    draw.rectangle((width // 8, height // 8, width // 2, height // 2), fill=(200, 40, 40))
    draw.ellipse((width // 2, height // 3, width - 5, height - 5), fill=(30, 90, 200))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def rgba_png(size: tuple[int, int]) -> bytes:
    """An RGBA PNG: transparent background, an opaque green square in the middle."""
    width, height = size
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle(
        (width // 4, height // 4, width * 3 // 4, height * 3 // 4), fill=(0, 160, 0, 255)
    )
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def opaque_png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 250)).save(out, "PNG")
    return out.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def run_json(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, list[dict]]:
    """Run ``main(["resize", ...args, "--json"])`` in-process; return (status, JSON lines)."""
    code = main(["resize", *map(str, args), "--json"])
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines()]
    return code, lines


def files_under(folder: Path) -> list[str]:
    """Every file below ``folder`` (hidden ones included), as sorted posix relative paths."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


# --- processing and JSON Lines -----------------------------------------------------------------


def test_large_jpeg_is_resized_to_500_and_reported_as_one_json_line(tmp_path, capsys):
    src = write(tmp_path / "in" / "wide.jpg", photo_jpeg((1200, 800)))
    out_dir = tmp_path / "out"

    code, lines = run_json(capsys, src, "--out", out_dir)

    assert code == 0
    assert len(lines) == 1
    record = lines[0]
    assert set(record) == PROCESSED_KEYS
    assert record["input"] == str(src)
    assert record["status"] == "processed"
    assert record["output"] == str(out_dir / "wide.jpg")
    assert (record["width"], record["height"]) == (500, 333)
    assert (record["original_width"], record["original_height"]) == (1200, 800)
    assert record["format"] == "JPEG"
    assert record["content_type"] == "image/jpeg"
    assert record["original_format"] == "JPEG"
    assert record["has_alpha"] is False
    assert record["input_size_bytes"] == src.stat().st_size
    assert record["size_bytes"] == (out_dir / "wide.jpg").stat().st_size
    assert isinstance(record["duration_ms"], float) and record["duration_ms"] >= 0
    with Image.open(out_dir / "wide.jpg") as image:
        assert image.format == "JPEG"
        assert image.size == (500, 333)
    assert files_under(out_dir) == ["wide.jpg"]


def test_max_dim_option_and_no_upscaling(tmp_path, capsys):
    big = write(tmp_path / "big.jpg", photo_jpeg((900, 1200)))
    small = write(tmp_path / "small.jpg", photo_jpeg((120, 80)))
    out_dir = tmp_path / "out"

    code, lines = run_json(capsys, big, small, "--out", out_dir, "--max-dim", "300")

    assert code == 0
    assert [(r["width"], r["height"]) for r in lines] == [(225, 300), (120, 80)]
    with Image.open(out_dir / "big.jpg") as image:
        assert image.size == (225, 300)
    with Image.open(out_dir / "small.jpg") as image:
        assert image.size == (120, 80)


def test_rgba_png_keeps_alpha_and_gets_the_png_extension(tmp_path, capsys):
    src = write(tmp_path / "logo.png", rgba_png((800, 400)))
    out_dir = tmp_path / "out"

    code, lines = run_json(capsys, src, "--out", out_dir)

    assert code == 0
    record = lines[0]
    assert record["format"] == "PNG"
    assert record["has_alpha"] is True
    assert record["output"] == str(out_dir / "logo.png")
    with Image.open(out_dir / "logo.png") as image:
        assert image.format == "PNG"
        assert image.size == (500, 250)
        assert image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info
        assert image.convert("RGBA").getpixel((0, 0))[3] == 0
        assert image.convert("RGBA").getpixel((250, 125)) == (0, 160, 0, 255)


# --- rejections: reason codes, no partial output, exit 1 ---------------------------------------


def test_rejected_inputs_leave_no_output_and_exit_1(tmp_path, capsys):
    good = write(tmp_path / "in" / "good.jpg", photo_jpeg((640, 480)))
    empty = write(tmp_path / "in" / "empty.jpg", b"")
    jpeg = photo_jpeg((640, 480))
    truncated = write(tmp_path / "in" / "truncated.jpg", jpeg[: len(jpeg) // 2])
    text = write(tmp_path / "in" / "notes.jpg", b"just some text, not an image\n" * 20)
    out_dir = tmp_path / "out"

    code, lines = run_json(capsys, good, empty, truncated, text, "--out", out_dir)

    assert code == 1
    by_input = {r["input"]: r for r in lines}
    assert [r["input"] for r in lines] == [str(good), str(empty), str(truncated), str(text)]
    assert by_input[str(good)]["status"] == "processed"
    for path in (empty, truncated, text):
        record = by_input[str(path)]
        assert record["status"] == "rejected"
        assert record["reason"] in REASONS
        assert record["message"]
    assert set(by_input[str(empty)]) == set(by_input[str(text)]) == REJECTED_KEYS
    assert by_input[str(empty)]["reason"] == "empty"
    assert by_input[str(truncated)]["reason"] in {"truncated", "corrupt"}
    assert by_input[str(text)]["reason"] == "unsupported_format"
    # The truncated JPEG's header parsed: its record says what the engine knew.
    assert by_input[str(truncated)] == {
        "input": str(truncated),
        "status": "rejected",
        "reason": by_input[str(truncated)]["reason"],
        "message": by_input[str(truncated)]["message"],
        "original_format": "JPEG",
        "original_width": 640,
        "original_height": 480,
        "original_mode": "RGB",
    }
    # Only the good one's output; no partial files, no temporary files.
    assert files_under(out_dir) == ["good.jpg"]


def test_too_many_pixels_record_carries_the_declared_size(tmp_path, capsys):
    bomb = write(tmp_path / "bomb.png", png_declaring((20000, 20000)))

    code, lines = run_json(capsys, bomb, "--out", tmp_path / "out")

    assert code == 1
    assert set(lines[0]) == REJECTED_KEYS | FACT_KEYS
    assert lines[0]["reason"] == "too_many_pixels"
    assert {k: lines[0][k] for k in FACT_KEYS} == {
        "original_format": "PNG",
        "original_width": 20000,
        "original_height": 20000,
        "original_mode": "RGB",
    }
    assert files_under(tmp_path / "out") == []


def test_file_over_max_input_bytes_is_rejected_too_large_without_reading(
    tmp_path, capsys, monkeypatch
):
    src = write(tmp_path / "big.jpg", photo_jpeg((640, 480)))
    out_dir = tmp_path / "out"
    opened: list[Path] = []
    real_open = Path.open

    def spy_open(self, *args, **kwargs):
        opened.append(self)
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", spy_open)

    limit = src.stat().st_size - 1
    code, lines = run_json(capsys, src, "--out", out_dir, "--max-input-bytes", str(limit))

    assert code == 1
    assert lines[0]["status"] == "rejected"
    assert lines[0]["reason"] == "too_large"
    assert str(limit) in lines[0]["message"]
    assert src not in opened
    assert files_under(out_dir) == []


def test_unreadable_file_is_failed_and_the_batch_goes_on(tmp_path, capsys, monkeypatch):
    locked = write(tmp_path / "locked.jpg", photo_jpeg((64, 64)))
    good = write(tmp_path / "good.jpg", photo_jpeg((64, 64)))
    real_open = Path.open

    def deny(self, *args, **kwargs):  # chmod 000 would not stop root, so simulate it
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", deny)
    code, lines = run_json(capsys, locked, good, "--out", tmp_path / "out")

    assert code == 1
    assert lines[0] == {
        "input": str(locked),
        "status": "failed",
        "reason": "unreadable",
        "message": "cannot read the input: Permission denied",
    }
    assert lines[1]["status"] == "processed"
    assert files_under(tmp_path / "out") == ["good.jpg"]


def test_engine_bug_is_reported_as_failed_and_the_batch_goes_on(tmp_path, capsys, monkeypatch):
    first = write(tmp_path / "a.jpg", photo_jpeg((64, 64)))
    second = write(tmp_path / "b.jpg", photo_jpeg((80, 64)))
    real_process_set = cli.process_set

    def flaky(data: bytes, *args, **kwargs):
        if data == first.read_bytes():
            raise RuntimeError("boom")
        return real_process_set(data, *args, **kwargs)

    monkeypatch.setattr(cli, "process_set", flaky)
    code, lines = run_json(capsys, first, second, "--out", tmp_path / "out")

    assert code == 1
    assert lines[0]["status"] == "failed"
    assert lines[0]["reason"] == "internal_error"
    assert "RuntimeError" in lines[0]["message"]
    assert lines[1]["status"] == "processed"
    assert files_under(tmp_path / "out") == ["b.jpg"]


# --- atomic writes -----------------------------------------------------------------------------


def test_interrupted_write_leaves_no_partial_or_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "out" / "a.jpg"
    write(target, b"previous run")

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cli.write_atomic(target, b"new bytes")

    assert target.read_bytes() == b"previous run"
    assert files_under(tmp_path / "out") == ["a.jpg"]


def test_write_failure_is_reported_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    src = write(tmp_path / "a.jpg", photo_jpeg((64, 64)))

    def disk_full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli.os, "replace", disk_full)
    code, lines = run_json(capsys, src, "--out", tmp_path / "out")

    assert code == 1
    assert lines[0]["status"] == "failed"
    assert lines[0]["reason"] == "write_failed"
    assert "No space left" in lines[0]["message"]
    assert files_under(tmp_path / "out") == []


def test_existing_output_is_replaced(tmp_path, capsys):
    src = write(tmp_path / "a.jpg", photo_jpeg((800, 600)))
    out_dir = tmp_path / "out"
    write(out_dir / "a.jpg", b"stale")

    code, _ = run_json(capsys, src, "--out", out_dir)

    assert code == 0
    with Image.open(out_dir / "a.jpg") as image:
        assert image.size == (500, 375)
    assert files_under(out_dir) == ["a.jpg"]


# --- folders -----------------------------------------------------------------------------------


def test_folder_is_walked_sorted_recursively_skipping_hidden(tmp_path, capsys):
    root = tmp_path / "photos"
    write(root / "b.jpg", photo_jpeg((1000, 500)))
    write(root / "a.png", rgba_png((300, 300)))
    write(root / "2024" / "june" / "c.jpg", photo_jpeg((600, 600)))
    write(root / "readme.txt", b"not an image")  # no image suffix: not picked from a folder
    write(root / "fake.JPG", b"not an image either")  # image suffix: an input, sniffed
    write(root / ".hidden.jpg", photo_jpeg((64, 64)))
    write(root / ".cache" / "d.jpg", photo_jpeg((64, 64)))
    out_dir = tmp_path / "out"

    code, lines = run_json(capsys, root, "--out", out_dir)

    assert [r["input"] for r in lines] == [
        str(root / "a.png"),
        str(root / "b.jpg"),
        str(root / "fake.JPG"),
        str(root / "2024" / "june" / "c.jpg"),
    ]
    assert [r["status"] for r in lines] == ["processed", "processed", "rejected", "processed"]
    assert lines[2]["reason"] == "unsupported_format"
    assert code == 1
    assert files_under(out_dir) == ["2024/june/c.jpg", "a.png", "b.jpg"]
    with Image.open(out_dir / "2024" / "june" / "c.jpg") as image:
        assert image.size == (500, 500)
    with Image.open(out_dir / "b.jpg") as image:
        assert image.size == (500, 250)


def test_outdir_inside_the_input_folder_is_refused(tmp_path, capsys):
    """``imgproc resize coll --out coll/sub``: a later run over ``coll`` (with another
    ``--out``, or the batch form) would resize the renditions again."""
    root = tmp_path / "photos"
    write(root / "a.jpg", photo_jpeg((800, 600)))
    write(root / "resized" / "old.jpg", photo_jpeg((64, 64)))  # an earlier run's output
    before = snapshot(root)

    err = " ".join(refused(capsys, root, "--out", root / "resized" / "deeper").split())

    assert (
        f"--out {root / 'resized' / 'deeper'} is inside the input folder {root}: the next "
        f"run over {root} would take the outputs for originals and resize them again; "
        f"choose an --out outside it (for example {tmp_path / 'photos-resized'})"
    ) in err
    assert snapshot(root) == before
    # Through a symlink to the folder, too.
    link = tmp_path / "link"
    link.symlink_to(root, target_is_directory=True)
    assert "is inside the input folder" in refused(capsys, root, "--out", link / "small")
    # A folder beside it is fine.
    code, lines = run_json(capsys, root, "--out", tmp_path / "photos-resized")
    assert code == 0 and len(lines) == 2


def test_same_file_reached_twice_is_processed_once(tmp_path, capsys):
    root = tmp_path / "photos"
    src = write(root / "a.jpg", photo_jpeg((64, 64)))

    code, lines = run_json(capsys, src, root, "--out", tmp_path / "out")

    assert code == 0
    assert [r["input"] for r in lines] == [str(src)]


def test_empty_folder_is_not_an_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code = main(["resize", str(tmp_path / "empty"), "--out", str(tmp_path / "out"), "--json"])
    captured = capsys.readouterr()
    assert code == 0
    assert captured.out == ""
    assert "no input files" in captured.err


# --- output names and collisions ---------------------------------------------------------------


def test_plan_outputs_disambiguates_shared_stems_deterministically(tmp_path):
    out_dir = tmp_path / "out"
    found = [
        (Path("x/a.jpg"), PurePath("a.jpg")),
        (Path("x/a.png"), PurePath("a.png")),
        (Path("x/A.GIF"), PurePath("A.GIF")),
        (Path("x/a_jpg.bmp"), PurePath("a_jpg.bmp")),
        (Path("x/b.jpg"), PurePath("b.jpg")),
        (Path("x/sub/a.jpg"), PurePath("sub/a.jpg")),
        (Path("y/README"), PurePath("README")),
        (Path("z/README"), PurePath("README")),
    ]

    tasks = plan_outputs(found, out_dir)

    assert [t.input_path for t in tasks] == [p for p, _ in found]
    assert [t.output_base.relative_to(out_dir).as_posix() for t in tasks] == [
        "a_jpg_2",  # "a_jpg" is a_jpg.bmp's own unique stem, which it keeps
        "a_png",
        "A_gif",
        "a_jpg",
        "b",
        "sub/a",  # another folder: no collision
        "README",
        "README_2",
    ]
    # Case-insensitively unique, so no two outputs can overwrite each other anywhere.
    bases = [t.output_base.as_posix().casefold() for t in tasks]
    assert len(set(bases)) == len(bases)
    assert plan_outputs(found, out_dir) == tasks


def test_same_stem_inputs_both_survive_in_outdir(tmp_path, capsys):
    jpg = write(tmp_path / "a.jpg", photo_jpeg((640, 480)))
    png_opaque = write(tmp_path / "a.png", opaque_png((640, 480)))
    other_dir = write(tmp_path / "more" / "a.jpg", photo_jpeg((320, 240)))
    out_dir = tmp_path / "out"

    code, lines = run_json(capsys, jpg, png_opaque, other_dir, "--out", out_dir)

    assert code == 0
    outputs = [r["output"] for r in lines]
    # An opaque PNG becomes a JPEG: without disambiguation both would be out/a.jpg.
    assert outputs[0] == str(out_dir / "a_jpg.jpg")
    assert outputs[1].startswith(str(out_dir / "a_png."))
    assert outputs[2] == str(out_dir / "a_jpg_2.jpg")  # file args all land in OUTDIR itself
    assert len(set(outputs)) == 3
    assert len(files_under(out_dir)) == 3
    with Image.open(outputs[1]) as image:
        assert image.size == (500, 375)
        assert image.convert("RGB").getpixel((10, 10)) == pytest.approx((10, 120, 250), abs=6)


# --- usage errors: exit 2, nothing processed ---------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["resize"],
        ["resize", "IN"],  # no --out
        ["resize", "--out", "OUT"],  # no input
        ["resize", "IN", "--out", "OUT", "--max-dim", "0"],
        ["resize", "IN", "--out", "OUT", "--max-dim", "big"],
        ["resize", "IN", "--out", "OUT", "--jobs", "-1"],
        ["shrink", "IN", "--out", "OUT"],
    ],
    ids=["nothing", "no-args", "no-out", "no-input", "max-dim-0", "max-dim-text", "jobs", "verb"],
)
def test_usage_errors_exit_2(tmp_path, capsys, args):
    write(tmp_path / "IN", photo_jpeg((64, 64)))
    argv = [str(tmp_path / a) if a in {"IN", "OUT"} else a for a in args]

    with pytest.raises(SystemExit) as exc:
        main(argv)

    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err
    assert not (tmp_path / "OUT").exists()


def test_missing_input_is_a_usage_error_before_anything_is_processed(tmp_path, capsys):
    good = write(tmp_path / "good.jpg", photo_jpeg((64, 64)))
    out_dir = tmp_path / "out"

    with pytest.raises(SystemExit) as exc:
        main(["resize", str(good), str(tmp_path / "typo.jpg"), "--out", str(out_dir), "--json"])

    captured = capsys.readouterr()
    assert exc.value.code == 2
    assert "input not found" in captured.err
    assert captured.out == ""
    assert not out_dir.exists()


def test_out_being_a_file_is_a_usage_error(tmp_path, capsys):
    good = write(tmp_path / "good.jpg", photo_jpeg((64, 64)))
    not_a_dir = write(tmp_path / "out", b"")

    with pytest.raises(SystemExit) as exc:
        main(["resize", str(good), "--out", str(not_a_dir)])

    assert exc.value.code == 2
    assert "--out must be a folder" in capsys.readouterr().err


# --- OUTDIR must not hold the inputs: exit 2, originals untouched ----------------------------


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` with its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def refused(capsys: pytest.CaptureFixture[str], *args: str | Path) -> str:
    """Run ``main(["resize", ...args, "--json"])``; assert exit 2 and no stdout; return stderr."""
    with pytest.raises(SystemExit) as exc:
        main(["resize", *map(str, args), "--json"])
    captured = capsys.readouterr()
    assert exc.value.code == 2
    assert captured.out == ""
    return captured.err


def photos_folder(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    write(root / "a.jpg", photo_jpeg((800, 600)))
    write(root / "b.png", opaque_png((640, 480)))  # would become b.jpg
    write(root / ".b.jpg", b"a hidden file of the user's")
    write(root / "2024" / "c.jpg", photo_jpeg((700, 700)))
    return root


def test_outdir_same_as_input_folder_is_refused_and_nothing_changes(tmp_path, capsys):
    root = photos_folder(tmp_path)
    before = snapshot(root)

    err = refused(capsys, root, "--out", root)

    assert "usage:" in err
    assert f"--out {root} is the input folder" in err
    assert "choose another --out" in err
    assert snapshot(root) == before


def test_outdir_holding_an_input_file_is_refused(tmp_path, capsys):
    """``imgproc resize photos/a.jpg --out photos`` used to replace a.jpg and exit 0."""
    root = photos_folder(tmp_path)
    before = snapshot(root)

    err = refused(capsys, root / "a.jpg", "--out", root)
    err_png = refused(capsys, root / "b.png", "--out", root)  # b.jpg is not even an input

    assert f"holds the input {root / 'a.jpg'}" in err
    assert f"holds the input {root / 'b.png'}" in err_png
    assert snapshot(root) == before


def test_outdir_reaching_the_input_folder_through_a_symlink_is_refused(tmp_path, capsys):
    root = photos_folder(tmp_path)
    link = tmp_path / "link"
    link.symlink_to(root, target_is_directory=True)
    before = snapshot(root)

    err = refused(capsys, root, "--out", link)

    assert "is the input folder" in err
    assert snapshot(root) == before


def test_output_path_that_is_another_input_is_refused(tmp_path, capsys):
    """OUTDIR/sub/a.jpg planned for other/sub/a.jpg is itself an input given by name."""
    out_dir = tmp_path / "out"
    named = write(out_dir / "sub" / "a.jpg", b"the user's original, named on the command line")
    write(tmp_path / "other" / "sub" / "a.jpg", photo_jpeg((300, 200)))
    before = snapshot(out_dir)

    err = refused(capsys, named, tmp_path / "other", "--out", out_dir)

    assert f"which is the input {named}" in err
    assert snapshot(out_dir) == before


def test_outdir_beside_the_inputs_in_a_parent_folder_is_still_allowed(tmp_path, capsys):
    """Only the folders holding inputs are refused; OUTDIR may be any other folder."""
    root = photos_folder(tmp_path)
    out_dir = tmp_path  # the parent of photos: it holds no input itself

    code, lines = run_json(capsys, root / "2024", "--out", out_dir)

    assert code == 0
    assert [r["output"] for r in lines] == [str(tmp_path / "c.jpg")]
    with Image.open(root / "2024" / "c.jpg") as image:
        assert image.size == (700, 700)  # the original is untouched


# --- the person-facing mode, parallel mode, the installed entry points -------------------------


def test_without_json_prints_a_summary_table_and_totals(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # wide enough that rich does not fold the paths
    good = write(tmp_path / "holiday.jpg", photo_jpeg((1000, 750)))
    bad = write(tmp_path / "broken.jpg", b"this is text, whatever the name says")
    bomb = write(tmp_path / "bomb.png", png_declaring((20000, 20000)))

    code = main(["resize", str(good), str(bad), str(bomb), "--out", str(tmp_path / "out")])

    out = capsys.readouterr().out
    assert code == 1
    assert "holiday.jpg" in out
    assert "1000x750" in out and "500x375" in out
    assert "broken.jpg" in out and "rejected" in out
    assert "20000x20000 PNG" in out  # what the engine knew about a rejected input
    assert "3 inputs: 1 processed, 2 rejected, 0 failed" in out
    assert not out.lstrip().startswith("{")


def test_jobs_gives_the_same_records_in_input_order(tmp_path, capsys):
    root = tmp_path / "photos"
    for i in range(4):
        write(root / f"p{i}.jpg", photo_jpeg((700 + 50 * i, 500)))
    write(root / "p9.jpg", b"nope")

    code_1, serial = run_json(capsys, root, "--out", tmp_path / "out1")
    code_2, parallel = run_json(capsys, root, "--out", tmp_path / "out2", "--jobs", "2")

    def strip(records: list[dict]) -> list[dict]:
        stripped = [
            {k: v for k, v in r.items() if k not in {"duration_ms", "output"}} for r in records
        ]
        for r in stripped:  # each rendition names its file under out1 or out2
            r["renditions"] = [
                {k: v for k, v in x.items() if k != "output"} for x in r.get("renditions", [])
            ]
        return stripped

    assert code_1 == code_2 == 1
    assert strip(serial) == strip(parallel)
    assert files_under(tmp_path / "out1") == files_under(tmp_path / "out2")


def test_python_dash_m_imgproc_runs_the_cli(tmp_path):
    src = write(tmp_path / "in dir" / "über photo.jpg", photo_jpeg((1500, 1000)))
    bad = write(tmp_path / "in dir" / "bad.gif", b"GIF89a")
    out_dir = tmp_path / "out"

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "imgproc",
            "resize",
            str(tmp_path / "in dir"),
            "--out",
            str(out_dir),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert proc.returncode == 1, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(r["input"], r["status"]) for r in lines] == [
        (str(bad), "rejected"),
        (str(src), "processed"),
    ]
    with Image.open(out_dir / "über photo.jpg") as image:
        assert (image.format, image.size) == ("JPEG", (500, 333))
    assert files_under(out_dir) == ["über photo.jpg"]


def test_console_script_points_at_main():
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("imgproc") == "imgproc.cli:main"
