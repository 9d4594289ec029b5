"""The resize decision table (handlers/decision.py): pure functions, no store, no AWS."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.config import ResizeSettings
from handlers.decision import (
    Process,
    Reject,
    Skip,
    claimed_api_id,
    decide,
    identify,
    is_api_upload,
    item_id_of,
    made_from,
    screen,
)
from handlers.events import ObjectCreated
from handlers.item import SourceRevision
from handlers.keys import direct_image_id
from handlers.ports import ObjectHead

API_ID = "a" * 32
SETTINGS = ResizeSettings(
    metadata_table="t",
    processed_bucket="out",
    uploads_bucket="up",
    processed_prefix="",
    max_object_bytes=1000,
)
PREFIXED = ResizeSettings(
    metadata_table="t", processed_bucket="up", uploads_bucket="up", processed_prefix="thumbs/"
)
T1, T2 = "2024-05-01T00:00:00.000Z", "2024-05-02T00:00:00.000Z"


def created(key: str = "photo.jpg", bucket: str = "up", **kwargs: Any) -> ObjectCreated:
    return ObjectCreated(bucket=bucket, key=key, **{"size_bytes": 10, "etag": "e1", **kwargs})


def head(**kwargs: Any) -> ObjectHead:
    return ObjectHead(**{"size_bytes": 10, "etag": "e1", **kwargs})


def revision(**kwargs: Any) -> SourceRevision:
    values = {
        "image_id": "b" * 32,
        "origin": "s3",
        "bucket": "up",
        "key": "photo.jpg",
        "revision": "e1",
        "etag": "e1",
        "version_id": None,
        "event_time": T1,
        "size_bytes": 10,
    }
    return SourceRevision(**{**values, **kwargs})


# ---------------------------------------------------------------- screen: the event alone


@pytest.mark.parametrize(
    ("obj", "settings", "expected"),
    [
        (created(bucket="out"), SETTINGS, Skip("recursion")),  # the whole processed bucket
        (created(bucket="up", key="thumbs/a.jpg"), PREFIXED, Skip("recursion")),
        (created(bucket="up", key="a.jpg"), PREFIXED, None),  # same bucket, outside prefix
        (created(key="holiday/", size_bytes=0), SETTINGS, Skip("folder_marker")),
        (created(key="holiday/", size_bytes=5), SETTINGS, None),  # a real object named so
        (created(key="empty.jpg", size_bytes=0), SETTINGS, None),  # rejected later as empty
        (created(), SETTINGS, None),
    ],
    ids=["processed_bucket", "under_prefix", "beside_prefix", "marker", "slash_key", "empty", "ok"],
)
def test_screen(obj: ObjectCreated, settings: ResizeSettings, expected: Skip | None) -> None:
    assert screen(obj, settings) == expected


# ---------------------------------------------------------------- identify: + HEAD


@pytest.mark.parametrize(
    ("obj", "answer", "superseded"),
    [
        (created(version_id="v1"), head(version_id="v2"), True),
        (created(version_id="v1"), head(version_id="v1", etag="other"), False),
        (created(etag="e1"), head(etag="e2"), True),  # unversioned: the ETag tells
        (created(etag=None), head(etag="e2"), False),  # nothing to compare
        (created(version_id="v1"), head(version_id=None, etag="e2"), False),
    ],
    ids=["newer_version", "same_version", "other_etag", "no_event_etag", "versioning_off"],
)
def test_identify_skips_superseded_events(
    obj: ObjectCreated, answer: ObjectHead, superseded: bool
) -> None:
    result = identify(obj, answer, SETTINGS)
    assert (result == Skip("superseded")) is superseded


def test_identify_skips_our_own_renditions_anywhere() -> None:
    marked = head(metadata={"generated-by": "image-pipeline"})
    assert identify(created(bucket="elsewhere"), marked, SETTINGS) == Skip("recursion")


def test_identify_describes_the_revision_of_a_direct_upload() -> None:
    obj = created(key="dir/cat.jpg", version_id="v9", event_time=T2)
    answer = head(size_bytes=1234, etag="abc", version_id="v9")

    assert identify(obj, answer, SETTINGS) == SourceRevision(
        image_id=direct_image_id("up", "dir/cat.jpg"),
        origin="s3",
        bucket="up",
        key="dir/cat.jpg",
        revision="v9",  # the version id, when there is one
        etag="abc",
        version_id="v9",
        event_time=T2,
        size_bytes=1234,
    )
    unversioned = identify(created(), head(etag="e1"), SETTINGS)
    assert isinstance(unversioned, SourceRevision) and unversioned.revision == "e1"


def api_item(bucket: str = "up", key: str = f"uploads/{API_ID}/cat.jpg") -> dict[str, Any]:
    """The pending item the API writes before its object can exist."""
    return {"image_id": API_ID, "origin": "api", "source_bucket": bucket, "source_key": key}


@pytest.mark.parametrize(
    ("bucket", "key", "metadata", "expected"),
    [
        ("up", "any/name.jpg", {"image-id": API_ID}, API_ID),
        ("up", f"uploads/{API_ID}/cat.jpg", {}, API_ID),
        ("up", "uploads/not-an-id/cat.jpg", {}, None),
        ("up", "x.jpg", {"image-id": "NOT-HEX"}, None),
        ("other", f"uploads/{API_ID}/cat.jpg", {"image-id": API_ID}, None),  # not trusted
    ],
    ids=["metadata", "upload_key", "bad_key_id", "bad_metadata_id", "foreign_bucket"],
)
def test_claimed_api_ids(
    bucket: str, key: str, metadata: dict[str, str], expected: str | None
) -> None:
    obj = created(bucket=bucket, key=key)
    assert claimed_api_id(obj, head(metadata=metadata), SETTINGS) == expected


def test_without_an_object_an_api_id_counts_only_for_the_item_the_api_issued() -> None:
    key = f"uploads/{API_ID}/cat.jpg"
    obj = created(key=key)
    direct = (direct_image_id("up", key), "s3")

    assert item_id_of(obj, head(), SETTINGS, api_item()) == (API_ID, "api")
    assert item_id_of(obj, head(), SETTINGS, None) == direct  # never issued: a phantom
    assert item_id_of(obj, head(), SETTINGS, api_item(key="uploads/x/other.jpg")) == direct
    assert item_id_of(obj, head(), SETTINGS, api_item(bucket="elsewhere")) == direct
    direct_item = {**api_item(), "origin": "s3"}
    assert item_id_of(obj, head(), SETTINGS, direct_item) == direct
    assert is_api_upload(api_item(), obj) and not is_api_upload(None, obj)


def test_without_an_uploads_bucket_api_ids_count_everywhere() -> None:
    anywhere = ResizeSettings(metadata_table="t", processed_bucket="out")
    key = f"uploads/{API_ID}/cat.jpg"
    obj = created(bucket="other", key=key)

    assert item_id_of(obj, head(), anywhere, api_item("other", key)) == (API_ID, "api")
    assert claimed_api_id(obj, None, anywhere) == API_ID
    assert claimed_api_id(obj, None, SETTINGS) is None  # only the uploads bucket is trusted
    assert claimed_api_id(created(key="direct.jpg"), None, SETTINGS) is None


def test_made_from_reads_the_rendition_metadata() -> None:
    ours = {"generated-by": "image-pipeline", "source-bucket": "up", "source-key": "a%20b.jpg"}

    assert made_from(ours, "up", "a b.jpg")
    assert not made_from(ours, "up", "a b.jpg2")
    assert not made_from(ours, "other", "a b.jpg")
    assert not made_from({**ours, "generated-by": "someone"}, "up", "a b.jpg")


# ---------------------------------------------------------------- decide: + current item


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (None, "process"),
        ({"status": "pending"}, "process"),  # no revision yet: the API's pending item
        ({"source_revision": "e1", "status": "pending"}, "process"),
        ({"source_revision": "e1", "status": "failed"}, "process"),  # a retry
        ({"source_revision": "e1", "status": "processed"}, "duplicate"),
        ({"source_revision": "e1", "status": "rejected"}, "duplicate"),
        ({"source_revision": "e0", "status": "processed", "source_event_time": T2}, "superseded"),
        ({"source_revision": "e0", "status": "processed", "source_event_time": T1}, "process"),
        ({"source_revision": "e0", "status": "processed"}, "process"),  # no time to compare
    ],
    ids=[
        "no_item",
        "pending_upload",
        "pending_revision",
        "failed_revision",
        "processed_revision",
        "rejected_revision",
        "newer_revision",
        "same_time_revision",
        "untimed_revision",
    ],
)
def test_decide_against_the_current_item(item: dict[str, Any] | None, expected: str) -> None:
    source = revision(event_time=T1)
    decision = decide(source, item, SETTINGS)

    if expected == "process":
        assert decision == Process(source)
    else:
        assert decision == Skip(expected, source.image_id)  # type: ignore[arg-type]


def test_an_event_without_time_is_never_superseded_by_time() -> None:
    item = {"source_revision": "e0", "status": "processed", "source_event_time": T2}
    assert decide(revision(event_time=None), item, SETTINGS) == Process(revision(event_time=None))


def test_decide_rejects_oversize_objects_without_reading_them() -> None:
    at_limit = revision(size_bytes=1000)
    over = revision(size_bytes=1001)

    assert decide(at_limit, None, SETTINGS) == Process(at_limit)
    decision = decide(over, None, SETTINGS)
    assert isinstance(decision, Reject) and decision.source == over
    assert decision.rejection.reason == "too_large"
    assert decision.rejection.message == "expected at most 1000 bytes, got 1001"


def test_a_duplicate_is_skipped_before_the_size_check() -> None:
    item = {"source_revision": "e1", "status": "rejected"}
    assert decide(revision(size_bytes=5000), item, SETTINGS) == Skip("duplicate", "b" * 32)
