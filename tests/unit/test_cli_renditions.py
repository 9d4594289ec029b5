"""``imgproc resize --preset`` / ``--renditions``: files written, JSON records, refusals."""

from __future__ import annotations

import pytest
from PIL import Image

from imgproc import cli
from tests.unit.test_cli import files_under, main, photo_jpeg, rgba_png, run_json, write
from tests.unit.test_renditions import WEB_FILES

WEB_EXTRA = WEB_FILES[1:]  # all but default.jpg, which is OUTDIR/<stem>.jpg


def test_web_preset_writes_the_primary_as_before_and_the_rest_in_a_folder(tmp_path, capsys):
    src = write(tmp_path / "in" / "beach.jpg", photo_jpeg((2000, 1500)))
    out_dir = tmp_path / "out"

    code, [record] = run_json(capsys, src, "--out", out_dir, "--preset", "web")

    assert code == 0
    assert files_under(out_dir) == sorted(["beach.jpg", *(f"beach/{f}" for f in WEB_EXTRA)])
    # Today's fields describe the primary (default) rendition.
    assert record["output"] == str(out_dir / "beach.jpg")
    assert (record["width"], record["height"], record["format"]) == (500, 375, "JPEG")
    renditions = record["renditions"]
    assert [(r["name"], r["output"]) for r in renditions] == [
        ("default", str(out_dir / "beach.jpg")),
        *(
            (name.split(".")[0], str(out_dir / "beach" / name))
            for name in WEB_EXTRA  # in the preset's order
        ),
    ]
    assert renditions[0]["bytes"] == record["size_bytes"]
    for r in renditions:
        with Image.open(r["output"]) as image:
            assert image.format == r["format"]
            assert image.size == (r["width"], r["height"])
        assert r["bytes"] == (tmp_path / r["output"]).stat().st_size
        assert r["content_type"] == f"image/{r['format'].lower()}"
    assert {r["name"]: r["width"] for r in renditions} == {
        "default": 500,
        "w320": 320,
        "w500": 500,
    }
    # w500's JPEG is the default rendition: listed, not written twice
    assert record["collapsed"] == [
        {
            "name": "w500",
            "format": "auto",
            "same_as": "default.jpg",
            "same_as_output": str(out_dir / "beach.jpg"),
        }
    ]
    assert record["upright_width"] == 2000 and record["animated"] is False
    assert record["dominant_color"].startswith("#") and len(record["dominant_color"]) == 7
    assert len(record["sha256"]) == 64 and record["blurhash"]


def test_default_preset_record_lists_its_one_file(tmp_path, capsys):
    src = write(tmp_path / "a.png", rgba_png((800, 600)))

    code, [record] = run_json(capsys, src, "--out", tmp_path / "out")

    assert code == 0
    assert files_under(tmp_path / "out") == ["a.png"]
    assert record["renditions"] == [
        {
            "name": "default",
            "output": record["output"],
            "format": "PNG",
            "content_type": "image/png",
            "width": 500,
            "height": 375,
            "bytes": record["size_bytes"],
            "has_alpha": True,
        }
    ]


def test_collapsed_renditions_point_at_the_file_that_has_them(tmp_path, capsys):
    src = write(tmp_path / "small.jpg", photo_jpeg((400, 300)))
    out_dir = tmp_path / "out"

    code, [record] = run_json(capsys, src, "--out", out_dir, "--preset", "web-large")

    assert code == 0
    assert files_under(out_dir) == [
        "small.jpg",
        "small/w320.avif",
        "small/w320.jpg",
        "small/w320.webp",
        "small/w640.avif",
        "small/w640.webp",
    ]
    same = {(c["name"], c["format"]): c["same_as_output"] for c in record["collapsed"]}
    assert same[("w1280", "auto")] == str(out_dir / "small.jpg")
    assert same[("w1280", "avif")] == str(out_dir / "small" / "w640.avif")


def test_renditions_by_hand_and_max_dim_for_a_preset(tmp_path, capsys):
    src = write(tmp_path / "a.jpg", photo_jpeg((1200, 900)))

    code, [record] = run_json(
        capsys, src, "--out", tmp_path / "o1", "--renditions", "hero:1000:avif, thumb:100:webp"
    )
    assert code == 0
    assert files_under(tmp_path / "o1") == ["a.avif", "a/thumb.webp"]
    assert (record["format"], record["width"]) == ("AVIF", 1000)

    code, [record] = run_json(capsys, src, "--out", tmp_path / "o2", "--max-dim", "200")
    assert code == 0
    assert record["renditions"][0]["width"] == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--renditions", "320:gif"], "--renditions: rendition w320: expected a format"),
        (["--renditions", "320", "--max-dim", "100"], "--max-dim sets a preset's size"),
        (["--preset", "web", "--renditions", "320"], "not allowed with argument"),
        (["--preset", "mobile"], "invalid choice: 'mobile'"),
    ],
)
def test_bad_rendition_options_are_usage_errors(tmp_path, capsys, args, message):
    src = write(tmp_path / "a.jpg", photo_jpeg((64, 64)))
    with pytest.raises(SystemExit) as exited:
        main(["resize", str(src), "--out", str(tmp_path / "out"), *args])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_rejected_input_leaves_no_rendition_or_folder(tmp_path, capsys):
    bad = write(tmp_path / "broken.jpg", photo_jpeg((900, 600))[:500])

    code, [record] = run_json(capsys, bad, "--out", tmp_path / "out", "--preset", "web")

    assert code == 1
    assert record["status"] == "rejected"
    assert files_under(tmp_path / "out") == []
    assert not (tmp_path / "out" / "broken").exists()


def test_failed_write_midway_removes_the_renditions_written(tmp_path, capsys, monkeypatch):
    src = write(tmp_path / "a.jpg", photo_jpeg((900, 600)))
    real_replace = cli.os.replace
    calls = []

    def third_fails(source, target):
        calls.append(target)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real_replace(source, target)

    monkeypatch.setattr(cli.os, "replace", third_fails)
    code, [record] = run_json(capsys, src, "--out", tmp_path / "out", "--preset", "web")

    assert code == 1
    assert record["status"] == "failed" and record["reason"] == "write_failed"
    assert "w320.webp" in record["message"]
    assert files_under(tmp_path / "out") == []


def test_a_rendition_folder_meeting_another_inputs_output_is_refused(tmp_path, capsys):
    photos = tmp_path / "photos"
    write(photos / "a.jpg", photo_jpeg((900, 600)))
    write(photos / "a" / "w320.jpg", photo_jpeg((900, 600)))

    with pytest.raises(SystemExit) as exited:
        main(["resize", str(photos), "--out", str(tmp_path / "out"), "--preset", "web"])

    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "would both write" in err and "w320.jpg" in err
    assert not (tmp_path / "out").exists()


def test_a_rendition_path_that_is_an_input_is_refused(tmp_path, capsys):
    out_dir = tmp_path / "out"
    src = write(tmp_path / "a.jpg", photo_jpeg((900, 600)))
    victim = write(out_dir / "a" / "w500.webp", b"the user's own file")

    with pytest.raises(SystemExit) as exited:
        main(["resize", str(src), str(victim), "--out", str(out_dir), "--preset", "web"])

    assert exited.value.code == 2
    assert "originals are never overwritten" in capsys.readouterr().err
    assert victim.read_bytes() == b"the user's own file"


def test_summary_counts_every_rendition(tmp_path, capsys):
    src = write(tmp_path / "a.jpg", photo_jpeg((2000, 1500)))

    code = main(["resize", str(src), "--out", str(tmp_path / "out"), "--preset", "web"])

    assert code == 0
    out = capsys.readouterr().out
    assert "(+5 renditions)" in out
    total_kb = sum(p.stat().st_size for p in (tmp_path / "out").rglob("*") if p.is_file()) / 1e3
    assert f"-> {total_kb:,.1f} kB out" in out
