"""Pure key rules: rendition keys, file names, image ids, metadata encoding."""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote

import pytest

from handlers.keys import (
    MAX_KEY_BYTES,
    MAX_RENDITION_FILE_BYTES,
    direct_image_id,
    image_id_from_upload_key,
    is_image_id,
    metadata_safe,
    new_image_id,
    rendition_folder,
    rendition_key,
    sanitise_filename,
    set_rendition_key,
    truncate_utf8,
)


@pytest.mark.parametrize(
    ("source", "prefix", "ext", "expected"),
    [
        ("photos/cat.png", "processed/", "jpg", "processed/photos/cat.png.jpg"),
        ("cat.JPEG", "", "jpg", "cat.JPEG"),
        ("cat.tar.gz", "", "jpg", "cat.tar.gz.jpg"),
        ("README", "", "png", "README.png"),
        ("my photo+1 100%.jpg", "", "jpg", "my photo+1 100%.jpg"),
        (".jpg", "", "jpg", ".jpg.jpg"),
    ],
)
def test_rendition_key_plain_cases(source: str, prefix: str, ext: str, expected: str) -> None:
    assert rendition_key(source, prefix, ext) == expected


@pytest.mark.parametrize(
    ("source", "prefix", "expected"),
    [
        ("photos/cat.jpg", "", "photos/cat.jpg/w640.avif"),
        ("photos/cat.png", "processed/", "processed/photos/cat.png/w640.avif"),
        ("my photo+1 100%.heic", "", "my photo+1 100%.heic/w640.avif"),
        ("README", "", "README/w640.avif"),
    ],
)
def test_set_rendition_keys_lie_in_the_source_folder(
    source: str, prefix: str, expected: str
) -> None:
    assert set_rendition_key(source, prefix, "w640.avif") == expected
    assert rendition_folder(source, prefix) == expected.removesuffix("w640.avif")


def test_unsafe_and_long_source_keys_get_a_hashed_folder() -> None:
    dotted = rendition_folder("a/../b.jpg", "p/")
    long_key = "deep/" + "é" * 505 + ".jpg"  # 1,019 bytes of UTF-8
    cut = rendition_folder(long_key, "p/")

    assert dotted.startswith("p/a/b.jpg-") and dotted.endswith("/")
    assert dotted != rendition_folder("a/b.jpg", "p/")
    assert cut.startswith("p/deep/é") and cut.endswith("/")
    assert len(cut.encode("utf-8")) + MAX_RENDITION_FILE_BYTES <= MAX_KEY_BYTES
    assert cut != rendition_folder(long_key + "x", "p/")


def test_file_names_longer_than_a_rendition_name_are_refused() -> None:
    longest = "n" * 32 + ".avif"
    assert len(longest.encode()) == MAX_RENDITION_FILE_BYTES
    with pytest.raises(ValueError, match="at most 37 bytes"):
        set_rendition_key("a.jpg", "", "n" + longest)
    with pytest.raises(ValueError):
        set_rendition_key("a.jpg", "", "../w640.avif")


def test_same_stem_different_formats_keep_distinct_renditions() -> None:
    sources = ("a.png", "a.jpg", "a.JPEG", "a.heic")
    keys = [rendition_key(k, "", "jpg") for k in sources]
    assert keys == ["a.png.jpg", "a.jpg", "a.JPEG", "a.heic.jpg"]


@pytest.mark.parametrize(
    "source",
    [
        "../../etc/passwd",
        "/abs/path.jpg",
        "a//b.jpg",
        "./x/./y.jpg",
        "%2e%2e/%2E%2E/x.jpg",
        "%252e%252e/x.jpg",
        "..%2f..%2fx.jpg",
        "..\\..\\x.jpg",
        "...",
        "/",
        "a\x00b\x7f.jpg",
    ],
)
def test_rendition_key_never_leaves_prefix(source: str) -> None:
    key = rendition_key(source, "out/", "jpg")

    assert key.startswith("out/")
    rest = key[len("out/") :]
    for segment in rest.split("/"):
        assert segment not in ("", ".", "..")
        assert unquote(unquote(unquote(segment))) not in (".", "..")
    assert "\\" not in key and "\x00" not in key
    assert key.endswith(".jpg")


def test_cleaned_keys_stay_distinct() -> None:
    keys = {rendition_key(k, "", "jpg") for k in ("a/b.jpg", "a//b.jpg", "/a/b.jpg", "a/./b.jpg")}
    assert len(keys) == 4
    assert "a/b.jpg" in keys


@pytest.mark.parametrize("char", ["é", "😀", unicodedata.normalize("NFD", "é"), "a"])
def test_long_keys_truncated_on_character_boundary(char: str) -> None:
    source_a = "dir/" + char * 1100 + "-a.png"
    source_b = "dir/" + char * 1100 + "-b.png"

    key_a = rendition_key(source_a, "processed/renditions/", "webp")
    key_b = rendition_key(source_b, "processed/renditions/", "webp")

    assert key_a != key_b
    for source, key in ((source_a, key_a), (source_b, key_b)):
        assert len(key.encode("utf-8")) <= MAX_KEY_BYTES
        assert key.startswith("processed/renditions/dir/")
        assert key.endswith(".webp")
        kept = key[len("processed/renditions/") : key.rindex("-")]
        assert source.startswith(kept)
        assert not unicodedata.combining(source[len(kept)])  # no grapheme split


def test_truncate_utf8_keeps_combining_marks_with_their_base() -> None:
    nfd = unicodedata.normalize("NFD", "éé")  # e + U+0301, twice: 6 bytes
    assert truncate_utf8(nfd, 4) == nfd[:2]
    assert truncate_utf8(nfd, 3) == nfd[:2]
    assert truncate_utf8(nfd, 2) == ""
    assert truncate_utf8("😀😀", 5) == "😀"


@pytest.mark.parametrize(
    ("raw", "extension", "expected"),
    [
        ("photo.jpg", "jpg", "photo.jpg"),
        ("../../etc/passwd", "jpg", "passwd.jpg"),
        ("C:\\Users\\me\\My Photo (1).JPG", None, "My_Photo_1.JPG"),
        ("", "png", "image.png"),
        (None, None, "image"),
        ("...hidden", "gif", "hidden.gif"),
        ("Été à Paris.heic", None, "Été_à_Paris.heic"),
        (unicodedata.normalize("NFD", "é.png"), None, "é.png"),
        ("report.pdf", "jpg", "report.pdf.jpg"),
        ("😀.png", None, "image.png"),
    ],
)
def test_sanitise_filename(raw: str | None, extension: str | None, expected: str) -> None:
    assert sanitise_filename(raw, extension=extension) == expected


def test_sanitise_filename_caps_length() -> None:
    name = sanitise_filename("é" * 500 + ".png")
    assert len(name.encode("utf-8")) <= 200
    assert name.endswith(".png")


def test_image_ids() -> None:
    first = direct_image_id("b", "k.jpg")
    assert first == direct_image_id("b", "k.jpg")
    assert first != direct_image_id("c", "k.jpg")
    assert first != direct_image_id("b", "k2.jpg")
    assert direct_image_id("ab", "c") != direct_image_id("a", "bc")
    assert is_image_id(first) and is_image_id(new_image_id())
    assert not is_image_id("A" * 32) and not is_image_id("../x")


def test_image_id_from_upload_key() -> None:
    image_id = "0123456789abcdef0123456789abcdef"
    assert image_id_from_upload_key(f"uploads/{image_id}/x.jpg", "uploads/") == image_id
    assert image_id_from_upload_key(f"other/{image_id}/x.jpg", "uploads/") is None
    assert image_id_from_upload_key("uploads/not-an-id/x.jpg", "uploads/") is None
    assert image_id_from_upload_key(f"{image_id}/x.jpg", "") is None


@pytest.mark.parametrize("value", ["plain/key.jpg", "é 😀 +%.jpg", "😀" * 300, "é" * 400])
def test_metadata_safe_is_ascii_and_reversible(value: str) -> None:
    encoded, truncated = metadata_safe(value)

    assert encoded.isascii()
    assert len(encoded) <= 1024
    assert value.startswith(unquote(encoded, errors="strict"))
    assert truncated == (unquote(encoded) != value)
