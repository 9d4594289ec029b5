"""The metadata item built in one place (handlers/item.py): fields from the engine's facts."""

from __future__ import annotations

import hashlib

import pytest

from handlers import item
from handlers.item import SourceRevision
from imgproc import ImageRejected, Result, parse_renditions, process_set
from imgproc.errors import FACT_KEYS, TOO_MANY_PIXELS
from tests.handlers.conftest import jpeg_bytes

NOW = "2024-05-03T10:00:00.000Z"
EVENT = "2024-05-01T00:00:00.000Z"


def source(origin: str = "s3", **kwargs: object) -> SourceRevision:
    values: dict[str, object] = {
        "image_id": "c" * 32,
        "origin": origin,
        "bucket": "up",
        "key": "dir/cat.png",
        "revision": "v1",
        "etag": "e1",
        "version_id": "v1",
        "event_time": EVENT,
        "size_bytes": 2048,
    }
    return SourceRevision(**{**values, **kwargs})  # type: ignore[arg-type]


def test_processed_fields_carry_every_fact_of_the_result() -> None:
    result = Result(
        data=b"x" * 321,
        format="JPEG",
        content_type="image/jpeg",
        extension="jpg",
        width=500,
        height=375,
        original_width=4032,
        original_height=3024,
        original_format="HEIF",
        original_mode="RGB",
        has_alpha=False,
        orientation=6,
        icc_converted=True,
    )

    fields = item.processed_fields(result, bucket="out", key="dir/cat.png.jpg", now=NOW)

    assert fields == {
        "status": "processed",
        "processed_at": NOW,
        "processed_bucket": "out",
        "processed_key": "dir/cat.png.jpg",
        "processed_width": 500,
        "processed_height": 375,
        "processed_size_bytes": 321,
        "content_type": "image/jpeg",
        "original_width": 4032,
        "original_height": 3024,
        "original_format": "HEIF",
        "original_mode": "RGB",
        "has_alpha": False,
        "orientation": 6,
        "icc_converted": True,
    }


def test_processed_set_fields_list_every_rendition_with_its_key() -> None:
    data = jpeg_bytes((900, 600))
    result = process_set(data, parse_renditions("default:500, w640:640:webp"))
    keys = ["dir/cat.jpg", "dir/cat.jpg/w640.webp"]

    fields = item.processed_set_fields(result, bucket="out", keys=keys, now=NOW)

    single = item.processed_fields(result.primary_result(), bucket="out", key=keys[0], now=NOW)
    assert {k: fields[k] for k in single} == single  # type: ignore[literal-required]
    assert fields["renditions"] == [
        {
            "name": "default",
            "key": "dir/cat.jpg",
            "format": "JPEG",
            "content_type": "image/jpeg",
            "width": 500,
            "height": 333,
            "bytes": result.renditions[0].size_bytes,
        },
        {
            "name": "w640",
            "key": "dir/cat.jpg/w640.webp",
            "format": "WEBP",
            "content_type": "image/webp",
            "width": 640,
            "height": 427,
            "bytes": result.renditions[1].size_bytes,
        },
    ]
    assert fields["collapsed"] == []
    assert (fields["upright_width"], fields["upright_height"]) == (900, 600)
    assert fields["sha256"] == hashlib.sha256(data).hexdigest()
    assert fields["animated"] is False
    assert fields["dominant_color"] == result.dominant_color
    assert fields["dominant_color"].startswith("#") and len(fields["dominant_color"]) == 7
    assert fields["blurhash"] == result.blurhash
    # a rejection or failure removes exactly what a processed outcome wrote (but the time)
    assert set(item.RENDITION_FIELDS) == set(fields) - {"status", "processed_at"}


def test_collapsed_renditions_name_the_key_holding_their_bytes() -> None:
    result = process_set(jpeg_bytes((600, 400)), parse_renditions("web-large"))
    keys = ["a.jpg"] + [f"a.jpg/{r.file_name}" for r in result.renditions[1:]]

    fields = item.processed_set_fields(result, bucket="out", keys=keys, now=NOW)

    # 640 and 1280 px of a 600 px original are the same 600 px: w1280 is not made again
    assert [e["key"] for e in fields["renditions"]] == [
        "a.jpg",
        "a.jpg/w320.avif",
        "a.jpg/w320.webp",
        "a.jpg/w320.jpg",
        "a.jpg/w640.avif",
        "a.jpg/w640.webp",
        "a.jpg/w640.jpg",
    ]
    assert fields["collapsed"] == [
        {"name": "w1280", "format": "AVIF", "same_as": "a.jpg/w640.avif"},
        {"name": "w1280", "format": "WEBP", "same_as": "a.jpg/w640.webp"},
        {"name": "w1280", "format": "JPEG", "same_as": "a.jpg/w640.jpg"},
    ]
    with pytest.raises(ValueError, match="expected 7 keys"):
        item.processed_set_fields(result, bucket="out", keys=keys[:-1], now=NOW)


def test_rejected_fields_keep_every_fact_the_engine_may_report() -> None:
    facts = {"original_format": "PNG", "original_width": 20_000, "original_height": 20_000}
    rejection = ImageRejected(TOO_MANY_PIXELS, "too many", facts={**facts, "original_mode": "L"})

    fields = item.rejected_fields(rejection, now=NOW)

    assert fields == {
        "status": "rejected",
        "processed_at": NOW,
        "error_reason": TOO_MANY_PIXELS,
        "error_message": "too many",
        **facts,
        "original_mode": "L",
    }
    assert set(FACT_KEYS) <= set(fields)


def test_revision_fields_of_a_direct_upload_move_with_each_version() -> None:
    fields, keep = item.revision_fields(source("s3"), now=NOW)

    assert fields == {
        "image_id": "c" * 32,
        "source_bucket": "up",
        "source_key": "dir/cat.png",
        "source_etag": "e1",
        "source_version_id": "v1",
        "source_event_time": EVENT,
        "source_sequencer": None,  # none in this event: an earlier one is removed
        "original_size_bytes": 2048,
        "origin": "s3",
        "updated_at": NOW,
        "uploaded_at": EVENT,
        "filename": "cat.png",
        "owner": None,  # not under users/<owner>/: ownerless (removed if set before)
    }
    assert keep == {}


def test_revision_fields_of_an_api_upload_keep_its_pending_values() -> None:
    fields, keep = item.revision_fields(source("api", event_time=None, version_id=None), now=NOW)

    assert "uploaded_at" not in fields and "filename" not in fields
    assert (fields["source_version_id"], fields["source_event_time"]) == (None, None)  # removed
    assert keep == {"uploaded_at": NOW, "filename": "cat.png"}


def test_pending_item_leaves_out_what_is_unknown() -> None:
    grant = item.pending_item(
        image_id="d" * 32,
        filename="a.jpg",
        bucket="up",
        key="uploads/x/a.jpg",
        content_type=None,
        uploaded_at=NOW,
        expires_at=1_700_000_000,
    )

    assert grant["status"] == "pending" and grant["origin"] == "api"
    assert grant["expires_at"] == 1_700_000_000
    assert "original_size_bytes" not in grant


def test_failed_fields_stamp_the_right_time() -> None:
    assert item.failed_fields("internal_error", "boom", now=NOW) == {
        "status": "failed",
        "error_reason": "internal_error",
        "error_message": "boom",
        "processed_at": NOW,
    }
    gone = item.failed_fields("source_missing", "gone", now=NOW, stamp="updated_at")
    assert gone["updated_at"] == NOW and "processed_at" not in gone
