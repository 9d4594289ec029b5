"""One item per direct S3 key across re-uploads, and what a rejected item records."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import pytest
from PIL import Image

from handlers import bootstrap, resize
from handlers.dynamo_store import DynamoMetadataStore
from handlers.keys import direct_image_id
from imgproc import ImageRejected, process
from imgproc.errors import TOO_MANY_PIXELS
from tests.handlers.conftest import Aws, LambdaContext, jpeg_bytes, png_bytes

FIRST_AT = "2024-05-01T10:00:00.000Z"
SECOND_AT = "2024-05-01T11:30:00.000Z"


def _put(aws: Aws, key: str, data: bytes, event_time: str) -> dict[str, Any]:
    """PutObject and the S3 event for it, stamped ``event_time``."""
    event = aws.put(key, data)
    event["Records"][0]["eventTime"] = event_time
    return event


def _rendition_size(aws: Aws, key: str) -> tuple[int, int]:
    body = aws.s3.get_object(Bucket=aws.processed_bucket, Key=key)["Body"].read()
    return Image.open(io.BytesIO(body)).size


def _revision(event: dict[str, Any]) -> str:
    obj = event["Records"][0]["s3"]["object"]
    return obj.get("versionId") or obj["eTag"]


@pytest.fixture(params=["unversioned", "versioned"])
def bucket_mode(request: pytest.FixtureRequest, aws: Aws) -> str:
    if request.param == "versioned":
        aws.s3.put_bucket_versioning(
            Bucket=aws.uploads_bucket, VersioningConfiguration={"Status": "Enabled"}
        )
    return request.param


def test_reupload_of_a_key_updates_its_one_item(
    aws: Aws, context: LambdaContext, bucket_mode: str
) -> None:
    first_data, second_data = jpeg_bytes((800, 600)), png_bytes((600, 900), alpha=False)
    first = _put(aws, "shots/same.jpg", first_data, FIRST_AT)
    assert resize.handler(first, context)["outcomes"][0]["status"] == "processed"
    second = _put(aws, "shots/same.jpg", second_data, SECOND_AT)

    assert resize.handler(second, context)["outcomes"][0]["status"] == "processed"
    after_second = aws.items()
    late = resize.handler(first, context)["outcomes"][0]  # the first event, redelivered
    again = resize.handler(second, context)["outcomes"][0]  # the second, redelivered

    assert (late["status"], late["reason"]) == ("skipped", "superseded")
    assert (again["status"], again["reason"]) == ("skipped", "duplicate")
    assert aws.items() == after_second  # unchanged by either
    (item,) = after_second
    assert item["image_id"] == direct_image_id(aws.uploads_bucket, "shots/same.jpg")
    assert item["status"] == "processed"
    assert item["source_revision"] == _revision(second)
    assert item["source_etag"] == second["Records"][0]["s3"]["object"]["eTag"]
    assert item.get("source_version_id") == second["Records"][0]["s3"]["object"].get("versionId")
    assert (item["original_width"], item["original_height"]) == (600, 900)
    assert (item["original_format"], item["original_mode"]) == ("PNG", "RGB")
    assert item["original_size_bytes"] == len(second_data)
    assert (item["processed_width"], item["processed_height"]) == (333, 500)
    assert item["uploaded_at"] == item["source_event_time"] == SECOND_AT
    assert item["filename"] == "same.jpg"
    # one rendition, holding the second image
    assert aws.keys() == ["shots/same.jpg"]
    assert _rendition_size(aws, "shots/same.jpg") == (333, 500)
    assert (
        item["processed_size_bytes"]
        == aws.s3.head_object(Bucket=aws.processed_bucket, Key="shots/same.jpg")["ContentLength"]
    )


def test_new_revision_rejected_then_fixed_keeps_only_its_own_fields(
    aws: Aws, context: LambdaContext, bucket_mode: str
) -> None:
    resize.handler(_put(aws, "flip.jpg", jpeg_bytes((800, 600)), FIRST_AT), context)
    broken = b"this is not an image at all" * 10

    resize.handler(_put(aws, "flip.jpg", broken, SECOND_AT), context)

    (rejected,) = aws.items()
    assert (rejected["status"], rejected["error_reason"]) == ("rejected", "unsupported_format")
    assert rejected["original_size_bytes"] == len(broken)
    assert rejected["uploaded_at"] == SECOND_AT
    stale = {"processed_key", "processed_width", "original_width", "content_type", "has_alpha"}
    assert stale.isdisjoint(rejected)

    resize.handler(
        _put(aws, "flip.jpg", jpeg_bytes((100, 50)), "2024-05-02T00:00:00.000Z"), context
    )

    (fixed,) = aws.items()
    assert (fixed["status"], fixed["processed_width"], fixed["processed_height"]) == (
        "processed",
        100,
        50,
    )
    assert "error_reason" not in fixed and "error_message" not in fixed
    assert _rendition_size(aws, "flip.jpg") == (100, 50)


def test_older_revision_never_overwrites_a_newer_item(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The version check can miss a late event (the GET ran before the newer PUT): the event
    times still keep the newer revision's item, and its rendition is not rewritten."""
    aws.s3.put_bucket_versioning(
        Bucket=aws.uploads_bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    old = _put(aws, "race.jpg", jpeg_bytes((800, 600)), FIRST_AT)
    new = _put(aws, "race.jpg", jpeg_bytes((600, 900)), SECOND_AT)
    resize.handler(new, context)
    item_before = aws.items()
    monkeypatch.setattr("handlers.decision.is_superseded", lambda obj, head: False)
    deps = bootstrap.get_deps("resize")
    real_open = deps.objects.open
    old_version = old["Records"][0]["s3"]["object"]["versionId"]
    monkeypatch.setattr(  # as if the GET had answered before the newer version was written
        deps.objects,
        "open",
        lambda bucket, key, **kw: real_open(bucket, key, version_id=old_version),
    )

    late = resize.handler(old, context)["outcomes"][0]

    assert (late["status"], late["reason"]) == ("skipped", "superseded")
    assert aws.items() == item_before
    assert _rendition_size(aws, "race.jpg") == (333, 500)

    # Had the item been read before the newer outcome was written, the conditional
    # write itself refuses the older outcome.
    real_get = deps.metadata.get
    reads = iter([None])
    monkeypatch.setattr(
        deps.metadata, "get", lambda image_id: next(reads, None) or real_get(image_id)
    )

    racing = resize.handler(old, context)["outcomes"][0]

    assert (racing["status"], racing["reason"]) == ("skipped", "superseded")
    assert aws.items() == item_before


def test_conditional_write_refuses_an_older_revision(aws: Aws) -> None:
    """Even when the early check is passed (a concurrent writer), the store refuses."""
    store = DynamoMetadataStore(aws.dynamodb, aws.table)
    newer = {"status": "processed", "source_event_time": SECOND_AT, "processed_width": 333}
    older = {"status": "processed", "source_event_time": FIRST_AT, "processed_width": 500}

    assert store.record("a" * 32, "v2", newer) is True
    assert store.record("a" * 32, "v1", older) is False
    assert store.record("a" * 32, "v1", {**older, "status": "failed"}) is False
    assert store.record("a" * 32, "v2", newer) is False  # final outcome: duplicate
    item = aws.item("a" * 32)
    assert (item["source_revision"], item["processed_width"]) == ("v2", 333)
    # a newer revision (or one at the same instant) is written
    assert store.record("a" * 32, "v3", {**newer, "processed_width": 100}) is True
    assert aws.item("a" * 32)["source_revision"] == "v3"


# ---------------------------------------------------------------- rejection facts


def _png_header(width_px: int, height_px: int) -> bytes:
    """A PNG signature and IHDR (8-bit RGB) of the given size, an empty IDAT and IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width_px, height_px, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


def test_pixel_bomb_header_is_rejected_with_what_the_header_said(
    aws: Aws, context: LambdaContext
) -> None:
    data = _png_header(20_000, 20_000)
    with pytest.raises(ImageRejected) as engine:
        process(data)
    assert engine.value.reason == TOO_MANY_PIXELS

    resize.handler(aws.put("bomb.png", data), context)

    (item,) = aws.items()
    assert (item["status"], item["error_reason"]) == ("rejected", TOO_MANY_PIXELS)
    assert aws.keys() == []
    # what the header told the engine before it refused, as numbers
    assert (item["original_width"], item["original_height"]) == (20_000, 20_000)
    assert type(item["original_width"]) is int and type(item["original_height"]) is int
    assert (item["original_format"], item["original_mode"]) == ("PNG", "RGB")
    assert item["original_size_bytes"] == len(data)
    raw = aws.dynamodb.get_item(TableName=aws.table, Key={"image_id": {"S": item["image_id"]}})
    assert raw["Item"]["original_width"] == {"N": "20000"}


def test_rejection_facts_are_merged_filtered_and_typed(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(data: bytes, *args: object, **kwargs: object) -> None:
        error = ImageRejected(TOO_MANY_PIXELS, "expected at most 100000000 pixels")
        error.facts = {  # type: ignore[attr-defined]
            "original_format": "PNG",
            "original_width": 20_000,
            "original_height": 20_000,
            "original_mode": "RGBA",
            "original_size_bytes": 1,  # not a fact the engine may set: ignored
            "processed_key": "x",  # neither
        }
        raise error

    monkeypatch.setattr("handlers.pipeline.process_set", refuse)
    data = png_bytes((10, 10))

    result = resize.handler(aws.put("bomb.png", data), context)

    assert result["outcomes"][0]["reason"] == TOO_MANY_PIXELS
    (item,) = aws.items()
    assert item["status"] == "rejected"
    assert (item["original_width"], item["original_height"]) == (20_000, 20_000)
    assert (item["original_format"], item["original_mode"]) == ("PNG", "RGBA")
    assert item["original_size_bytes"] == len(data)
    assert "processed_key" not in item


@pytest.mark.parametrize(
    "facts",
    [
        None,
        {},
        "not a mapping",
        {"original_width": "20000", "original_height": True, "original_format": 7},
    ],
    ids=["absent", "empty", "not_a_mapping", "wrong_types"],
)
def test_rejection_without_usable_facts_records_none(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch, facts: object
) -> None:
    def refuse(data: bytes, *args: object, **kwargs: object) -> None:
        error = ImageRejected(TOO_MANY_PIXELS, "too many")
        if facts is not None:
            error.facts = facts  # type: ignore[attr-defined]
        raise error

    monkeypatch.setattr("handlers.pipeline.process_set", refuse)

    resize.handler(aws.put("x.png", png_bytes((10, 10))), context)

    (item,) = aws.items()
    assert item["error_reason"] == TOO_MANY_PIXELS
    assert not {"original_width", "original_height", "original_format", "original_mode"} & set(item)
