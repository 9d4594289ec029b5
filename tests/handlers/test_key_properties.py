"""Properties of rendition keys over arbitrary S3 keys (hypothesis)."""

from __future__ import annotations

from urllib.parse import unquote

from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.keys import MAX_KEY_BYTES, rendition_folder, rendition_key, set_rendition_key

# S3 keys: 1 to 1,024 bytes of UTF-8, any characters (surrogates cannot be encoded).
S3_KEYS = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=400
).filter(lambda k: len(k.encode("utf-8")) <= MAX_KEY_BYTES)
PREFIXES = st.sampled_from(["", "processed/", "a/b/", "renditions/ü/"])
EXTENSIONS = st.sampled_from(["jpg", "png", "webp"])


@settings(max_examples=400, deadline=None)
@given(source=S3_KEYS, prefix=PREFIXES, extension=EXTENSIONS)
def test_rendition_key_is_a_valid_key_inside_its_prefix(
    source: str, prefix: str, extension: str
) -> None:
    key = rendition_key(source, prefix, extension)

    assert 0 < len(key.encode("utf-8")) <= MAX_KEY_BYTES
    assert key.startswith(prefix)
    for segment in key[len(prefix) :].split("/"):
        assert segment.strip() not in ("", ".", "..")
        assert unquote(unquote(unquote(segment))).strip() not in (".", "..")
    assert "\\" not in key
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in key)
    assert key.rsplit(".", 1)[-1].lower() in {extension, "jpeg", "jpe"}


@settings(max_examples=200, deadline=None)
@given(source=S3_KEYS, extension=EXTENSIONS)
def test_rendition_key_is_deterministic(source: str, extension: str) -> None:
    assert rendition_key(source, "p/", extension) == rendition_key(source, "p/", extension)


LONGEST_FILE = "n" * 32 + ".avif"  # the longest rendition name, the longest extension


@settings(max_examples=400, deadline=None)
@given(source=S3_KEYS, prefix=PREFIXES)
def test_rendition_folder_holds_a_valid_key_for_every_rendition(source: str, prefix: str) -> None:
    folder = rendition_folder(source, prefix)
    key = set_rendition_key(source, prefix, LONGEST_FILE)

    assert key == folder + LONGEST_FILE
    assert folder.startswith(prefix) and folder.endswith("/")
    assert 0 < len(key.encode("utf-8")) <= MAX_KEY_BYTES
    for segment in folder[len(prefix) : -1].split("/"):
        assert segment.strip() not in ("", ".", "..")
        assert unquote(unquote(unquote(segment))).strip() not in (".", "..")
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F or c == "\\" for c in key)
    # one prefix delete of the folder never reaches the default rendition's key
    assert not rendition_key(source, prefix, "jpg").startswith(folder)
