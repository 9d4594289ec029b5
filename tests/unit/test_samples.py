"""Every real photo in ``../shared/samples`` through the CLI, when that folder exists.

The samples are not part of the project (see their README); this module skips
without them. Every file there except documentation (``*.md``, ``*.txt``) is a
valid image people really upload (camera and phone JPEGs, HEIC, TIFF), so each
must be processed: longest side at most 500 px (exactly 500 when the original is
larger), no EXIF/GPS/XMP in the output, and every EXIF orientation variant
``landscape_N.jpg`` / ``portrait_N.jpg`` giving the same upright picture as N=1.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from imgproc.cli import main

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"
DOC_SUFFIXES = {".md", ".txt"}
MAX_DIM_PX = 500
GPS_IFD = 0x8825
MAX_MEAN_ABS_DIFF = 6.0
"""Orientation variants vs N=1: mean absolute difference per channel, 0-255 scale.

Each variant is a separately encoded JPEG of the same picture, so a few levels of
difference are expected; a wrong rotation or flip gives tens."""

pytestmark = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason=f"no sample photos at {SAMPLES} (they are optional)"
)


def sample_files() -> list[Path]:
    """Every non-hidden, non-documentation file under SAMPLES, sorted."""
    if not SAMPLES.is_dir():
        return []
    return sorted(
        p
        for p in SAMPLES.rglob("*")
        if p.is_file()
        and p.suffix.lower() not in DOC_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(SAMPLES).parts)
    )


def sample_id(path: Path) -> str:
    return path.relative_to(SAMPLES).as_posix()


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Run the CLI once over all samples; map sample id -> its JSON record."""
    out_dir = tmp_path_factory.mktemp("samples_out")
    files = sample_files()
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(["resize", *map(str, files), "--out", str(out_dir), "--json"])
    records = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert len(records) == len(files)
    by_id = {sample_id(Path(r["input"])): r for r in records}
    by_id["__exit_status__"] = {"code": code}
    return by_id


def processed(outcomes: dict[str, dict], name: str) -> dict:
    record = outcomes[name]
    assert record["status"] == "processed", f"{name}: {record}"
    return record


def test_every_sample_is_processed_and_exit_status_is_0(outcomes):
    not_processed = {
        name: f"{r['reason']}: {r['message']}"
        for name, r in outcomes.items()
        if name != "__exit_status__" and r["status"] != "processed"
    }
    assert not_processed == {}
    assert outcomes["__exit_status__"]["code"] == 0


@pytest.mark.parametrize("path", sample_files(), ids=sample_id)
def test_sample_output_size_format_and_privacy(outcomes, path):
    record = processed(outcomes, sample_id(path))
    output = Path(record["output"])
    data = output.read_bytes()

    longest_in = max(record["original_width"], record["original_height"])
    longest_out = max(record["width"], record["height"])
    assert longest_out == min(longest_in, MAX_DIM_PX)
    # Aspect ratio kept (the rounding of the short side costs at most one pixel).
    ratio_in = min(record["original_width"], record["original_height"]) / longest_in
    assert min(record["width"], record["height"]) == pytest.approx(ratio_in * longest_out, abs=1)

    with Image.open(output) as image:
        assert image.format == record["format"]
        assert image.size == (record["width"], record["height"])
        assert record["size_bytes"] == len(data)
        exif = image.getexif()
        assert GPS_IFD not in exif
        assert len(exif) == 0, f"EXIF tags left: {dict(exif)}"
        assert "exif" not in image.info
        leaked = {"xmp", "XML:com.adobe.xmp", "comment", "photoshop"} & set(image.info)
        assert leaked == set()
        image.load()  # the output decodes completely
    assert b"Exif\x00\x00" not in data
    assert b"http://ns.adobe.com/xap/" not in data


def test_gps_samples_had_gps_and_outputs_do_not(outcomes):
    gps_inputs = sorted((SAMPLES / "gps").glob("*.jpg"))
    assert gps_inputs, "the gps/ samples are missing"
    for path in gps_inputs:
        with Image.open(path) as original:
            assert GPS_IFD in original.getexif(), f"{path.name} has no GPS to strip"
        record = processed(outcomes, sample_id(path))
        with Image.open(record["output"]) as image:
            assert GPS_IFD not in image.getexif()
            assert image.getexif().get_ifd(GPS_IFD) == {}


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference of two same-size images, averaged over RGB, on 0-255."""
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    return sum(ImageStat.Stat(diff).mean) / 3


@pytest.mark.parametrize("shape", ["landscape", "portrait"])
@pytest.mark.parametrize("orientation", range(2, 9))
def test_orientation_variant_matches_orientation_1(outcomes, shape, orientation):
    reference = processed(outcomes, f"orientation/{shape}_1.jpg")
    variant = processed(outcomes, f"orientation/{shape}_{orientation}.jpg")

    assert (variant["width"], variant["height"]) == (reference["width"], reference["height"])
    if shape == "landscape":
        assert variant["width"] > variant["height"]
    else:
        assert variant["width"] < variant["height"]
    with Image.open(reference["output"]) as ref, Image.open(variant["output"]) as out:
        assert out.size == ref.size
        assert mean_abs_diff(out, ref) < MAX_MEAN_ABS_DIFF
