"""``ImageRejected.facts``: what the engine already knew about an input it rejected."""

from __future__ import annotations

import pickle

import pytest
from PIL import Image

from imgproc import ImageRejected, process
from imgproc.errors import FACT_KEYS
from tests.unit.images import encode, exif_bytes, png_chunk, png_declaring, quadrants


def rejection(data: bytes, **kwargs: object) -> ImageRejected:
    with pytest.raises(ImageRejected) as exc:
        process(data, **kwargs)
    return exc.value


def test_huge_declared_png_carries_format_size_and_mode() -> None:
    rejected = rejection(png_declaring((20000, 20000)))

    assert rejected.reason == "too_many_pixels"
    assert rejected.facts == {
        "original_format": "PNG",
        "original_width": 20000,
        "original_height": 20000,
        "original_mode": "RGB",
    }


def test_truncated_jpeg_whose_header_parsed_carries_its_dimensions() -> None:
    jpeg = encode(quadrants((640, 480), "L"), "JPEG", quality=90)

    rejected = rejection(jpeg[: len(jpeg) // 2])

    assert rejected.reason in {"truncated", "corrupt"}
    assert rejected.facts == {
        "original_format": "JPEG",
        "original_width": 640,
        "original_height": 480,
        "original_mode": "L",
    }


def test_decode_budget_rejection_carries_the_stored_size_not_the_draft_size() -> None:
    """A JPEG drafted to 1/8 is still reported at its stored size, before orientation."""
    stored = quadrants((1600, 1200))  # stored landscape, tagged as portrait (6)
    jpeg = encode(stored, "JPEG", exif=exif_bytes(6), progressive=True)

    rejected = rejection(jpeg, max_decode_bytes=1000)

    assert rejected.reason == "too_many_pixels"
    assert rejected.facts == {
        "original_format": "JPEG",
        "original_width": 1600,
        "original_height": 1200,
        "original_mode": "RGB",
    }


def test_structure_flood_knows_only_the_format() -> None:
    png = encode(Image.new("L", (2, 2)), "PNG")
    flood = png[:33] + png_chunk(b"zzZz", b"") * 150_000 + png[33:]

    rejected = rejection(flood)

    assert rejected.reason == "too_large"
    assert rejected.facts == {"original_format": "PNG"}


def test_corrupt_header_knows_only_the_format() -> None:
    png = png_declaring((0, 10))  # zero width: not a valid header

    rejected = rejection(png)

    assert rejected.reason in {"corrupt", "truncated"}
    assert rejected.facts == {"original_format": "PNG"}


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"", "empty"), (b"plain text, not an image\n" * 10, "unsupported_format")],
    ids=["empty", "text"],
)
def test_unrecognised_input_has_no_facts(data: bytes, reason: str) -> None:
    rejected = rejection(data)

    assert rejected.reason == reason
    assert rejected.facts == {}


def test_constructor_stays_backward_compatible_and_checks_keys() -> None:
    plain = ImageRejected("corrupt", "bad bytes")
    assert (plain.reason, plain.message, plain.facts, str(plain)) == (
        "corrupt",
        "bad bytes",
        {},
        "corrupt: bad bytes",
    )

    given = {"original_format": "GIF"}
    with_facts = ImageRejected("too_large", "many", facts=given)
    given["original_width"] = 1  # the exception keeps its own copy
    assert with_facts.facts == {"original_format": "GIF"}

    with pytest.raises(ValueError, match="unknown rejection facts"):
        ImageRejected("corrupt", "x", facts={"width": 3})
    with pytest.raises(ValueError, match="unknown rejection reason"):
        ImageRejected("nope", "x")


def test_add_facts_keeps_what_the_raiser_knew() -> None:
    rejected = ImageRejected("corrupt", "x", facts={"original_mode": "CMYK"})

    rejected.add_facts({"original_mode": "RGB", "original_width": 7})

    assert rejected.facts == {"original_mode": "CMYK", "original_width": 7}
    with pytest.raises(ValueError, match="unknown rejection fact"):
        rejected.add_facts({"size_bytes": 3})


def test_pickles_with_reason_message_and_facts() -> None:
    """Worker processes (the CLI's --jobs, any pool) hand rejections back by pickling."""
    rejected = rejection(png_declaring((20000, 20000)))

    copy = pickle.loads(pickle.dumps(rejected))

    assert type(copy) is ImageRejected
    assert (copy.reason, copy.message, copy.facts) == (
        rejected.reason,
        rejected.message,
        rejected.facts,
    )
    assert set(copy.facts) == set(FACT_KEYS)
