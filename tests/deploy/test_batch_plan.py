"""The batch form plans files as ``imgproc resize`` does (one set of rules, imgproc.cli_plan),
and labels each upload from the API's own table of image types (handlers.sniff).

Same inputs and the same output names from the same folder; the batch form's own
additions: a missing path is kept (its outcome is an ``io_error``) and ``results.jsonl``
under ``--out`` must not land on an input either.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

import pytest

from deploy.local.batch import Source, content_type_of, plan_batch
from handlers.sniff import CONTENT_TYPES
from imgproc.cli_plan import UsageError, collect_inputs, plan_outputs
from imgproc.sniff import IMAGE_SUFFIXES


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def photos(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    for name in ("b.jpg", "a.jpg", "A.png", "2024/c.heic", ".hidden.jpg", "notes.txt"):
        touch(root / name)
    return root


def test_batch_and_engine_cli_walk_and_name_alike(tmp_path: Path) -> None:
    root = photos(tmp_path)
    out_dir = tmp_path / "out"

    sources = plan_batch([root], out_dir)

    engine = plan_outputs(collect_inputs([root], out_dir), out_dir)
    assert [s.path for s in sources] == [t.input_path for t in engine]
    assert [out_dir / s.output_base for s in sources] == [t.output_base for t in engine]
    assert sources == [
        Source(root / "A.png", Path("A_png")),  # a.jpg and A.png share a stem, whatever case
        Source(root / "a.jpg", Path("a_jpg")),
        Source(root / "b.jpg", Path("b")),
        Source(root / "2024" / "c.heic", Path("2024/c")),
    ]


def test_a_file_listed_twice_is_uploaded_once_and_a_missing_one_is_kept(tmp_path: Path) -> None:
    root = photos(tmp_path)

    sources = plan_batch([root / "b.jpg", root, tmp_path / "gone.jpg"], None)

    paths = [s.path for s in sources]
    assert paths.count(root / "b.jpg") == 1
    assert paths[-1] == tmp_path / "gone.jpg"
    assert sources[-1].output_base == Path("gone")


def test_results_file_over_an_input_is_refused(tmp_path: Path) -> None:
    results = touch(tmp_path / "out" / "results.jsonl", b"the user's own file")
    touch(tmp_path / "in" / "a.jpg")

    with pytest.raises(UsageError) as refused:
        plan_batch([tmp_path / "in", results], tmp_path / "out")

    message = str(refused.value)
    assert f"results.jsonl would be written to {results}, which is the input {results}" in message
    assert "choose another --out" in message


def test_out_holding_a_named_file_is_refused_like_the_engine_cli(tmp_path: Path) -> None:
    """``a.png --out .`` would write ``a.jpg`` beside it, over the user's own ``a.jpg``."""
    a_png = touch(tmp_path / "a.png")
    touch(tmp_path / "a.jpg", b"not an input, but the user's")

    with pytest.raises(UsageError, match=f"--out {tmp_path} holds the input {a_png}"):
        plan_batch([a_png], tmp_path)


def test_out_inside_a_folder_walked_is_refused_like_the_engine_cli(tmp_path: Path) -> None:
    """``--out photos/out`` would have a later run over ``photos`` resize the renditions."""
    root = photos(tmp_path)

    with pytest.raises(UsageError, match=f"--out {root / 'out'} is inside the input folder"):
        plan_batch([root], root / "out")


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("cat.webp", "image/webp"),
        ("cat.avif", "image/avif"),
        ("cat.heic", "image/heic"),
        ("cat.heif", "image/heif"),
        ("CAT.WEBP", "image/webp"),
        ("Cat.Avif", "image/avif"),
        ("IMG_0001.HEIC", "image/heic"),
        ("DSC.JPG", "image/jpeg"),
        ("a.jpeg", "image/jpeg"),
        ("scan.TIF", "image/tiff"),
        ("archive.tar.png", "image/png"),
        ("notes.txt", "application/octet-stream"),
        ("README", "application/octet-stream"),
        ("photo.jpg.zip", "application/octet-stream"),
    ],
)
def test_uploads_are_labelled_from_one_table_whatever_the_system_knows(
    name: str, content_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A system whose mimetypes files know no image type at all (some lack .webp, .avif).
    monkeypatch.setattr(mimetypes, "guess_type", lambda *_a, **_k: (None, None))
    assert content_type_of(Path("in") / name) == content_type


def test_every_suffix_a_folder_walk_picks_gets_a_type_the_api_accepts() -> None:
    for suffix in IMAGE_SUFFIXES:
        assert content_type_of(Path(f"x{suffix}")) in CONTENT_TYPES, suffix
        assert content_type_of(Path(f"x{suffix.upper()}")) in CONTENT_TYPES, suffix
